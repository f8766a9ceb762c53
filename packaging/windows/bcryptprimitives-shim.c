/*
 * Test-only stand-in for bcryptprimitives.dll under Wine 8 (Debian 12), which lacks it.
 *
 * Rust's standard library (1.78 and later) takes its random numbers from ProcessPrng in
 * bcryptprimitives.dll, present on every Windows 10 and 11; Wine gained it only in 9.x.
 * scripts/windows-test.sh builds this file with mingw-w64 into the Wine prefix's
 * system32, never next to tsgate.exe: it is not shipped and never used on Windows.
 * ProcessPrng fills the buffer from RtlGenRandom (advapi32's SystemFunction036).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
