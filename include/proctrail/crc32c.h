/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and the spool.
 *
 * pt_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it and a slicing table
 * otherwise; both give the same values (tests/unit/test_crc32c.c checks that).
 * Pass crc = 0 to start; feed the result back in to continue over more bytes.
 */
#ifndef PROCTRAIL_CRC32C_H
#define PROCTRAIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t pt_crc32c(uint32_t crc, const void *buf, size_t len);
/* The table implementation, always; for tests and CPUs without SSE4.2. */
uint32_t pt_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 when pt_crc32c() uses the instruction. */
int pt_crc32c_hw_available(void);

#endif
