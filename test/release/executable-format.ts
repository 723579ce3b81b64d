/**
 * Reads just enough of ELF, PE and Mach-O headers to check that a binary is
 * what its platform loads, for the platforms that cannot run here. For Mach-O
 * it also verifies the ad-hoc code signature page by page: Apple silicon
 * refuses to run an arm64 executable whose signature is missing or does not
 * match its bytes.
 */
import { createHash } from 'node:crypto';

export interface ElfInfo {
  format: 'elf';
  machine: 'x86-64' | 'aarch64' | string;
  bits: 64 | 32;
}

export function readElf(b: Buffer): ElfInfo {
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const bits = b[4] === 2 ? 64 : 32;
  const m = b.readUInt16LE(0x12);
  return { format: 'elf', bits, machine: m === 0x3e ? 'x86-64' : m === 0xb7 ? 'aarch64' : `0x${m.toString(16)}` };
}

export interface PeInfo {
  format: 'pe';
  machine: 'x86-64' | 'arm64' | string;
  pe32plus: boolean;
  subsystem: 'console' | 'gui' | string;
}

export function readPe(b: Buffer): PeInfo {
  if (b.toString('ascii', 0, 2) !== 'MZ') throw new Error('not a PE file (no MZ)');
  const pe = b.readUInt32LE(0x3c);
  if (b.readUInt32LE(pe) !== 0x00004550) throw new Error('not a PE file (no PE signature)');
  const m = b.readUInt16LE(pe + 4);
  const opt = pe + 24;
  const sub = b.readUInt16LE(opt + 68);
  return {
    format: 'pe',
    machine: m === 0x8664 ? 'x86-64' : m === 0xaa64 ? 'arm64' : `0x${m.toString(16)}`,
    pe32plus: b.readUInt16LE(opt) === 0x20b,
    subsystem: sub === 3 ? 'console' : sub === 2 ? 'gui' : String(sub),
  };
}

export interface MachOInfo {
  format: 'macho';
  cpu: 'x86-64' | 'arm64' | string;
  executable: boolean;
  /** LC_CODE_SIGNATURE present. */
  signed: boolean;
  signature?: {
    adhoc: boolean;
    identifier: string;
    hashType: 'sha256' | string;
    pages: number;
    /** Every code page hash matches the file. */
    pagesMatch: boolean;
    codeLimit: number;
  };
}

const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;

export function readMachO(b: Buffer): MachOInfo {
  if (b.readUInt32LE(0) !== 0xfeedfacf) throw new Error('not a 64-bit little-endian Mach-O file');
  const cputype = b.readUInt32LE(4);
  const cpu = cputype === 0x01000007 ? 'x86-64' : cputype === 0x0100000c ? 'arm64' : `0x${cputype.toString(16)}`;
  const filetype = b.readUInt32LE(12);
  const ncmds = b.readUInt32LE(16);
  let off = 32; // mach_header_64
  let sig: { dataoff: number; datasize: number } | undefined;
  for (let i = 0; i < ncmds; i++) {
    const cmd = b.readUInt32LE(off);
    const size = b.readUInt32LE(off + 4);
    if (cmd === LC_CODE_SIGNATURE) sig = { dataoff: b.readUInt32LE(off + 8), datasize: b.readUInt32LE(off + 12) };
    off += size;
  }
  const info: MachOInfo = { format: 'macho', cpu, executable: filetype === 2, signed: sig !== undefined };
  if (!sig) return info;

  // SuperBlob (big-endian): magic, length, count, then {type, offset} indexes.
  const s = sig.dataoff;
  if (b.readUInt32BE(s) !== CSMAGIC_EMBEDDED_SIGNATURE)
    throw new Error('LC_CODE_SIGNATURE does not point at a signature');
  const count = b.readUInt32BE(s + 8);
  for (let i = 0; i < count; i++) {
    const cd = s + b.readUInt32BE(s + 12 + i * 8 + 4);
    if (b.readUInt32BE(cd) !== CSMAGIC_CODEDIRECTORY) continue;
    const flags = b.readUInt32BE(cd + 12);
    const hashOffset = b.readUInt32BE(cd + 16);
    const identOffset = b.readUInt32BE(cd + 20);
    const nCodeSlots = b.readUInt32BE(cd + 28);
    const codeLimit = b.readUInt32BE(cd + 32);
    const hashSize = b[cd + 36] as number;
    const hashType = b[cd + 37] as number;
    const pageSize = 2 ** (b[cd + 39] as number);
    const identEnd = b.indexOf(0, cd + identOffset);
    let pagesMatch = hashType === 2 && hashSize === 32;
    for (let p = 0; pagesMatch && p < nCodeSlots; p++) {
      const page = b.subarray(p * pageSize, Math.min((p + 1) * pageSize, codeLimit));
      const want = b.subarray(cd + hashOffset + p * hashSize, cd + hashOffset + (p + 1) * hashSize);
      pagesMatch = createHash('sha256').update(page).digest().equals(want);
    }
    info.signature = {
      adhoc: (flags & CS_ADHOC) !== 0,
      identifier: b.toString('utf8', cd + identOffset, identEnd),
      hashType: hashType === 2 ? 'sha256' : String(hashType),
      pages: nCodeSlots,
      pagesMatch: pagesMatch && nCodeSlots === Math.ceil(codeLimit / pageSize),
      codeLimit,
    };
    return info;
  }
  throw new Error('signature has no code directory');
}
