/**
 * Ad-hoc code signature for the macOS executables, written here on Linux.
 *
 * Why: Bun 1.4.5 signs what it cross-compiles for darwin-arm64 (validly), but
 * leaves the darwin-x64 runtime's original Developer ID signature in place
 * after inserting our code, so its page hashes no longer match and macOS
 * refuses it. We therefore (re-)sign every darwin binary the same way:
 * a signature holding only a CodeDirectory (SHA-256 of every 4 KiB page up to
 * the signature, flags adhoc + linker-signed, version 0x20400 with the __TEXT
 * executable segment), laid out exactly as Bun and Apple's linker write it.
 * test/release checks that re-signing Bun's own darwin-arm64 output gives back
 * the very same bytes, and that every page hash matches after signing.
 */
import { createHash } from 'node:crypto';

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;
const CS_LINKER_SIGNED = 0x20000;
const CS_EXECSEG_MAIN_BINARY = 0x1;
const CD_VERSION = 0x20400;
const CD_HEADER = 88;
const PAGE = 4096;
const HASH = 32;

interface Layout {
  sigCmd: number;
  dataoff: number;
  linkeditCmd: number;
  textFileoff: bigint;
  textFilesize: bigint;
}

function layout(b: Buffer): Layout {
  if (b.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a 64-bit little-endian Mach-O executable');
  const ncmds = b.readUInt32LE(16);
  let off = 32;
  let sigCmd = -1;
  let linkeditCmd = -1;
  let text: { fileoff: bigint; filesize: bigint } | undefined;
  for (let i = 0; i < ncmds; i++) {
    const cmd = b.readUInt32LE(off);
    if (cmd === LC_CODE_SIGNATURE) sigCmd = off;
    if (cmd === LC_SEGMENT_64) {
      const name = b.toString('latin1', off + 8, off + 24).replace(/\0+$/, '');
      if (name === '__LINKEDIT') linkeditCmd = off;
      if (name === '__TEXT') text = { fileoff: b.readBigUInt64LE(off + 40), filesize: b.readBigUInt64LE(off + 48) };
    }
    off += b.readUInt32LE(off + 4);
  }
  if (sigCmd < 0) throw new Error('no LC_CODE_SIGNATURE load command to fill');
  if (linkeditCmd < 0 || !text) throw new Error('no __LINKEDIT or __TEXT segment');
  const dataoff = b.readUInt32LE(sigCmd + 8);
  const linkeditEnd = Number(b.readBigUInt64LE(linkeditCmd + 40) + b.readBigUInt64LE(linkeditCmd + 48));
  const oldEnd = dataoff + b.readUInt32LE(sigCmd + 12);
  if (oldEnd !== linkeditEnd || oldEnd !== b.length) {
    throw new Error('the code signature is not the last thing in __LINKEDIT and in the file');
  }
  return { sigCmd, dataoff, linkeditCmd, textFileoff: text.fileoff, textFilesize: text.filesize };
}

/** Returns the executable with a fresh ad-hoc signature replacing the one it has. */
export function adhocSign(input: Buffer, identifier: string): Buffer {
  const l = layout(input);
  const ident = Buffer.from(`${identifier}\0`, 'utf8');
  const codeLimit = l.dataoff;
  const nSlots = Math.ceil(codeLimit / PAGE);
  const cdLength = CD_HEADER + ident.length + nSlots * HASH;
  const sigLength = 12 + 8 + cdLength; // SuperBlob header + one index entry + CodeDirectory

  const out = Buffer.alloc(codeLimit + sigLength);
  input.copy(out, 0, 0, codeLimit);
  // Load commands first: they are in the first page, which is hashed below.
  out.writeUInt32LE(sigLength, l.sigCmd + 12);
  const linkeditFileoff = out.readBigUInt64LE(l.linkeditCmd + 40);
  const linkeditFilesize = BigInt(codeLimit + sigLength) - linkeditFileoff;
  out.writeBigUInt64LE(linkeditFilesize, l.linkeditCmd + 48);
  const vmsize = out.readBigUInt64LE(l.linkeditCmd + 32);
  if (vmsize < linkeditFilesize) {
    const vmPage = 0x4000n; // a multiple of both the x86-64 and the arm64 page
    out.writeBigUInt64LE(((linkeditFilesize + vmPage - 1n) / vmPage) * vmPage, l.linkeditCmd + 32);
  }

  let p = codeLimit;
  out.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, p);
  out.writeUInt32BE(sigLength, p + 4);
  out.writeUInt32BE(1, p + 8); // one blob
  out.writeUInt32BE(0, p + 12); // CSSLOT_CODEDIRECTORY
  out.writeUInt32BE(20, p + 16); // its offset in the SuperBlob
  p += 20;
  const cd = p;
  out.writeUInt32BE(CSMAGIC_CODEDIRECTORY, cd);
  out.writeUInt32BE(cdLength, cd + 4);
  out.writeUInt32BE(CD_VERSION, cd + 8);
  out.writeUInt32BE(CS_ADHOC | CS_LINKER_SIGNED, cd + 12);
  out.writeUInt32BE(CD_HEADER + ident.length, cd + 16); // hashOffset
  out.writeUInt32BE(CD_HEADER, cd + 20); // identOffset
  out.writeUInt32BE(0, cd + 24); // nSpecialSlots
  out.writeUInt32BE(nSlots, cd + 28);
  out.writeUInt32BE(codeLimit, cd + 32);
  out.writeUInt8(HASH, cd + 36);
  out.writeUInt8(2, cd + 37); // SHA-256
  out.writeUInt8(0, cd + 38); // platform
  out.writeUInt8(12, cd + 39); // log2(4096)
  // spare2, scatterOffset, teamOffset, spare3, codeLimit64 stay 0
  out.writeBigUInt64BE(l.textFileoff, cd + 64); // execSegBase
  out.writeBigUInt64BE(l.textFilesize, cd + 72); // execSegLimit
  out.writeBigUInt64BE(BigInt(CS_EXECSEG_MAIN_BINARY), cd + 80);
  ident.copy(out, cd + CD_HEADER);
  const hashes = cd + CD_HEADER + ident.length;
  for (let i = 0; i < nSlots; i++) {
    const page = out.subarray(i * PAGE, Math.min((i + 1) * PAGE, codeLimit));
    createHash('sha256')
      .update(page)
      .digest()
      .copy(out, hashes + i * HASH);
  }
  return out;
}
