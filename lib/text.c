/*
 * text.c - what the listings print: columns aligned by display width (a
 * CJK character takes two columns, a combining mark none) and sizes in
 * K, M, G, T of 1024, as gb_parse_size reads them.
 */
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "gb.h"

/*
 * The catalog's strings are UTF-8 whatever the user's locale: measure
 * them under C.UTF-8, else under the user's locale if it is UTF-8, else
 * count code points.  Its own locale object: the program's is untouched.
 */
static locale_t
utf8_locale(void)
{
	static locale_t loc;
	static int tried;
	locale_t l;

	if (tried)
		return loc;
	tried = 1;
	if ((loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)))
		return loc;
	if ((l = newlocale(LC_CTYPE_MASK, "", (locale_t)0))) {
		if (strcmp(nl_langinfo_l(CODESET, l), "UTF-8") == 0)
			return loc = l;
		freelocale(l);
	}
	return loc;
}

size_t
gb_width(const char *s)
{
	locale_t loc = utf8_locale(), old;
	size_t w = 0, len = strlen(s), n;
	mbstate_t ps;
	wchar_t wc;

	if (!loc) {
		for (; *s; s++)
			w += ((unsigned char)*s & 0xc0) != 0x80;
		return w;
	}
	old = uselocale(loc);
	memset(&ps, 0, sizeof ps);
	while (len > 0) {
		n = mbrtowc(&wc, s, len, &ps);
		if (n == (size_t)-1 || n == (size_t)-2) {
			/* not UTF-8: a byte, shown as one replacement */
			memset(&ps, 0, sizeof ps);
			n = 1;
			w++;
		} else {
			int cw = wcwidth(wc);
			w += cw < 0 ? 1 : (size_t)cw;	/* a control: one */
		}
		s += n;
		len -= n;
	}
	uselocale(old);
	return w;
}

void
gb_fmt_size(char buf[GB_SIZE_LEN], long long v, int raw)
{
	static const char unit[] = "KMGT";
	double d = (double)v;
	int u = -1;

	if (raw || (v < 1024 && v > -1024)) {
		snprintf(buf, GB_SIZE_LEN, "%lld", v);
		return;
	}
	while (u < 3 && (d >= 1023.95 || d <= -1023.95)) {
		d /= 1024;
		u++;
	}
	/* one decimal below ten, as ls -h */
	if (d < 9.95 && d > -9.95)
		snprintf(buf, GB_SIZE_LEN, "%.1f%c", d, unit[u]);
	else
		snprintf(buf, GB_SIZE_LEN, "%.0f%c", d, unit[u]);
}

void
gb_table_init(struct gb_table *t, const char *align)
{
	memset(t, 0, sizeof *t);
	t->align = align;
	t->ncol = strlen(align);
}

void
gb_table_add(struct gb_table *t, const char *cell)
{
	if (t->ncell == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cell = gb_realloc(t->cell, t->cap * sizeof *t->cell);
	}
	t->cell[t->ncell++] = gb_strdup(cell ? cell : "");
}

void
gb_table_addf(struct gb_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = gb_vasprintf(fmt, ap);
	va_end(ap);
	gb_table_add(t, s);
	free(s);
}

void
gb_table_size(struct gb_table *t, long long v, int raw)
{
	char b[GB_SIZE_LEN];

	gb_fmt_size(b, v, raw);
	gb_table_add(t, b);
}

/*
 * Each row on a line after indent, columns two blanks apart, left ('l')
 * or right ('r') aligned; no blanks at the ends of lines.  Frees t.
 */
void
gb_table_print(struct gb_table *t, FILE *fp, const char *indent)
{
	size_t *w = gb_calloc(t->ncol ? t->ncol : 1, sizeof *w);
	size_t *cw = gb_calloc(t->ncell ? t->ncell : 1, sizeof *cw);
	char *line = NULL;
	size_t cap = 0;

	for (size_t i = 0; i < t->ncell; i++) {
		cw[i] = gb_width(t->cell[i]);
		if (cw[i] > w[i % t->ncol])
			w[i % t->ncol] = cw[i];
	}
	for (size_t r = 0; r < t->ncell; r += t->ncol) {
		size_t len = 0, need = strlen(indent) + 1;
		for (size_t c = 0; c < t->ncol && r + c < t->ncell; c++)
			need += strlen(t->cell[r + c]) + w[c] + 2;
		if (need > cap)
			line = gb_realloc(line, cap = need);
		len += (size_t)sprintf(line, "%s", indent);
		for (size_t c = 0; c < t->ncol && r + c < t->ncell; c++) {
			size_t pad = w[c] - cw[r + c];
			if (c)
				len += (size_t)sprintf(line + len, "  ");
			if (t->align[c] == 'r')
				len += (size_t)sprintf(line + len, "%*s", (int)pad, "");
			len += (size_t)sprintf(line + len, "%s", t->cell[r + c]);
			if (t->align[c] != 'r')
				len += (size_t)sprintf(line + len, "%*s", (int)pad, "");
		}
		while (len > 0 && line[len - 1] == ' ')
			len--;
		line[len] = '\0';
		fprintf(fp, "%s\n", line);
	}
	free(line);
	free(cw);
	free(w);
	for (size_t i = 0; i < t->ncell; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof *t);
}
