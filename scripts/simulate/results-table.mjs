// Turns `kubectl cnpg disk simulate -o json` (stdin) into the Markdown
// results table of docs/simulate.md:
//   node bin/run.js disk simulate -o json | node scripts/simulate/results-table.mjs
let text = '';
process.stdin.on('data', (c) => (text += c));
process.stdin.on('end', () => {
  const doc = JSON.parse(text);
  const gib = (b) => `${Math.round(Number(b) / 2 ** 30)}`;
  const num = (n) => Math.round(n).toLocaleString('en-US');
  const out = [
    `Backend: ${doc.backend.title}; seed ${doc.seed}; one year at one-minute steps.`,
    '',
    '| scenario | policy | full min | resizes | refused | peak GiB | GiB·h provisioned | GiB·h wasted | final GiB | goal |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const run of doc.runs) {
    for (const r of run.results) {
      const ours = r.policy.startsWith('ours');
      const goal = ours ? run.goal.ours[r.policy] : run.goal.cheapest?.policy === r.policy ? 'cheapest full-free' : '';
      out.push(
        `| ${run.trace.name} | ${ours ? `**${r.policy}**` : r.policy} | ${num(r.diskFullMinutes)} | ${r.resizes} | ${r.refusedResizes} | ${gib(r.peakBytes)} | ${num(r.provisionedGiBHours)} | ${num(r.wastedGiBHours)} | ${gib(r.finalBytes)} | ${goal} |`,
      );
    }
  }
  process.stdout.write(out.join('\n') + '\n');
});
