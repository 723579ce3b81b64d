/**
 * Release archives, written byte for byte here so that the same inputs give
 * the same archive on any machine (fixed times, owners and order; no tar or
 * zip program involved): `.tar.gz` (ustar) and `.zip` (deflate). Flat: every
 * entry is a file at the top of the archive, which is what krew expects.
 */
import { promisify } from 'node:util';
import { crc32, deflateRaw, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const deflateRawAsync = promisify(deflateRaw);
// zlib's default level: level 9 costs 30 % more time for 0.1 % smaller archives of these binaries.
const LEVEL = 6;

export interface Entry {
  /** File name inside the archive (no directories). */
  name: string;
  data: Buffer;
  /** Unix permission bits: 0o755 for the binary, 0o644 otherwise. */
  mode: number;
}

/** 2000-01-01T00:00:00Z: any fixed time works; zip cannot go below 1980. */
export const FIXED_MTIME = Date.UTC(2000, 0, 1) / 1000;

function checkName(name: string): void {
  if (!/^[A-Za-z0-9._-]{1,99}$/.test(name)) throw new Error(`archive entry name not allowed: '${name}'`);
}

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(e: Entry): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(e.name, 0, 100, 'ascii');
  h.write(octal(e.mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(e.data.length, 12), 124, 'ascii');
  h.write(octal(FIXED_MTIME, 12), 136, 'ascii');
  h.write(' '.repeat(8), 148, 'ascii'); // checksum placeholder
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** A gzip-compressed ustar archive. */
export async function tarGz(entries: readonly Entry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    checkName(e.name);
    parts.push(tarHeader(e), e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  const gz = await gzipAsync(Buffer.concat(parts), { level: LEVEL });
  gz[9] = 3; // OS = Unix whatever machine wrote it (zlib puts its own platform here)
  return gz;
}

/** DOS date for 2000-01-01 (zip stores local time without a zone; fixed anyway). */
const DOS_DATE = ((2000 - 1980) << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/** A zip archive (deflate), made "on Unix" so that unzip keeps the mode bits. */
export async function zip(entries: readonly Entry[]): Promise<Buffer> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    checkName(e.name);
    const name = Buffer.from(e.name, 'ascii');
    const deflated = await deflateRawAsync(e.data, { level: LEVEL });
    const crc = crc32(e.data);
    if (e.data.length >= 0xffffffff || deflated.length >= 0xffffffff) throw new Error(`${e.name}: too large for zip32`);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: deflate
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    locals.push(local, name, deflated);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(deflated.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38); // regular file + mode
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + deflated.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, cd, end]);
}
