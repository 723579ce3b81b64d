/**
 * `serve` over real HTTP on loopback: routes, methods, and bounded work (one
 * measurement shared by concurrent requests, reused within the TTL).
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeProbeReport } from '@cnpg-disk/core';
import { createProbeServer, parseListen, SharedMeasurement, type Measurement } from '../src/index.js';
import { FULL_REPORT } from './helpers/fixtures.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await (closers.pop() as () => Promise<void>)();
});

async function serve(measure: () => Promise<Measurement>, ttlMs = 5000) {
  const { server, shared } = createProbeServer({ measure, ttlMs });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, shared };
}

describe('serve', () => {
  it('serves /metrics and /status, 404 elsewhere, 405 for other methods', async () => {
    const { base } = await serve(() => Promise.resolve({ report: FULL_REPORT }));
    const m = await fetch(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await m.text()).toContain('cnpg_disk_total_bytes{cluster_namespace="db",cluster="pg",pod="pg-1"');
    const s = await fetch(`${base}/status?x=1`);
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(decodeProbeReport(await s.json())).toEqual({ ok: true, value: FULL_REPORT });
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
      const r = await fetch(`${base}/metrics`, { method });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET');
    }
  });

  it('shares one running measurement between concurrent requests and reuses it within the TTL', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { base, shared } = await serve(async () => {
      calls++;
      await gate;
      return { report: { ...FULL_REPORT, observedAt: new Date(Date.now()).toISOString() } };
    }, 60_000);
    const pending = Array.from({ length: 20 }, (_, i) => fetch(`${base}/${i % 2 ? 'metrics' : 'status'}`));
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    release();
    const responses = await Promise.all(pending);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    await Promise.all(responses.map((r) => r.text()));
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect(calls).toBe(1);
    expect(shared.started).toBe(1);
  });

  it('answers 500 with one line when a measurement throws, and measures again next time', async () => {
    let n = 0;
    const { base } = await serve(
      () => (n++ === 0 ? Promise.reject(new Error('boom')) : Promise.resolve({ report: FULL_REPORT })),
      0,
    );
    const r = await fetch(`${base}/status`);
    expect(r.status).toBe(500);
    expect(await r.text()).toBe('measurement failed: boom\n');
    expect((await fetch(`${base}/status`)).status).toBe(200);
  });
});

describe('SharedMeasurement', () => {
  it('measures again once the TTL has passed', async () => {
    let now = 0;
    let calls = 0;
    const s = new SharedMeasurement(
      () => {
        calls++;
        return Promise.resolve({ report: FULL_REPORT });
      },
      1000,
      () => now,
    );
    await s.get();
    now = 999;
    await s.get();
    expect(calls).toBe(1);
    now = 1000;
    await s.get();
    expect(calls).toBe(2);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9188', { host: '127.0.0.1', port: 9188 }],
    ['[::1]:9188', { host: '::1', port: 9188 }],
    [':9188', { host: '127.0.0.1', port: 9188 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
  ])('%s', (text, want) => expect(parseListen(text)).toEqual(want));
  it.each(['9188', 'host', 'a:b', '1.2.3.4:70000', '::1:80'])('rejects %s', (text) =>
    expect(() => parseListen(text)).toThrow(/--listen must be HOST:PORT/),
  );
});
