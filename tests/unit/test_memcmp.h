/* For the unit tests of stored secrets (tokens, stream tickets): an
 * interposer over GnuTLS's gnutls_memcmp that counts the constant-time
 * comparisons, so a test can tell verification goes through them.
 * Include it in one test file only (it defines the function). */
#ifndef VSD_TEST_MEMCMP_H
#define VSD_TEST_MEMCMP_H

#include <stddef.h>

static int memcmp_calls;
int gnutls_memcmp(const void *s1, const void *s2, size_t n);
int gnutls_memcmp(const void *s1, const void *s2, size_t n)
{
	const unsigned char *a = s1, *b = s2;
	unsigned char diff = 0;

	memcmp_calls++;
	for (size_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff != 0;
}

#endif
