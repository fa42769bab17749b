/* csv.c - the export set's CSV writer (gb-manifest(5)) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

/*
 * Quoted when the field holds a separator, quote or line end, is empty
 * (so "" differs from NULL), has edge spaces some readers trim, or is
 * "\." which PostgreSQL's COPY takes for the end of data.
 */
static int
needs_quotes(const char *s, size_t n)
{
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return 1;
	if (n == 2 && s[0] == '\\' && s[1] == '.')
		return 1;
	for (size_t i = 0; i < n; i++)
		switch (s[i]) {
		case ',': case '"': case '\n': case '\r':
			return 1;
		}
	return 0;
}

void
gb_csv_text(struct gb_out *o, const char *s, size_t n)
{
	const char *q;

	if (!s)		/* SQL NULL: an empty unquoted field */
		return;
	if (!needs_quotes(s, n)) {
		gb_out_write(o, s, n);
		return;
	}
	gb_out_putc(o, '"');
	while ((q = memchr(s, '"', n)) != NULL) {
		size_t k = (size_t)(q - s) + 1;
		gb_out_write(o, s, k);
		gb_out_putc(o, '"');
		s += k;
		n -= k;
	}
	gb_out_write(o, s, n);
	gb_out_putc(o, '"');
}

void
gb_csv_int(struct gb_out *o, int64_t v)
{
	char buf[24], *p = buf + sizeof buf;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	gb_out_write(o, p, (size_t)(buf + sizeof buf - p));
}

int
gb_fmt_real(char *buf, size_t len, double v)
{
	if (isnan(v))
		return snprintf(buf, len, "NaN");
	if (isinf(v))
		return snprintf(buf, len, v < 0 ? "-Infinity" : "Infinity");
	for (int prec = 15; prec < 17; prec++) {
		int n = snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v && !(v == 0 && signbit(v) &&
		    buf[0] != '-'))
			return n;
	}
	return snprintf(buf, len, "%.17g", v);
}

void
gb_csv_real(struct gb_out *o, double v)
{
	char buf[32];
	int n = gb_fmt_real(buf, sizeof buf, v);

	gb_out_write(o, buf, (size_t)n);
}

void
gb_csv_blob(struct gb_out *o, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;
	char buf[512];
	size_t k = 0;

	gb_out_write(o, "\\x", 2);
	for (size_t i = 0; i < n; i++) {
		buf[k++] = hex[b[i] >> 4];
		buf[k++] = hex[b[i] & 15];
		if (k == sizeof buf) {
			gb_out_write(o, buf, k);
			k = 0;
		}
	}
	gb_out_write(o, buf, k);
}
