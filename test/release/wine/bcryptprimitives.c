/*
 * Test support for running the windows-x64 binary under Debian 12's wine 8.0.
 *
 * Bun's Windows runtime imports ProcessPrng from bcryptprimitives.dll, an
 * export of Windows 10+ that wine 8.0 does not provide (the loader stops with
 * "Library bcryptprimitives.dll ... not found"). This stand-in exports it and
 * fills the buffer from the system RNG through BCryptGenRandom, which wine
 * implements. Built with mingw-w64 into the test's wine prefix only; never
 * shipped.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
