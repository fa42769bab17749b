/*
 * fuzz-csv.c - a table's CSV as gb-verify --deep and gb-restore read it:
 * the CSV reader (gb_csv_open_cb, gb_csv_next) under gb_check_table_to,
 * with two money columns summed.
 */
#include "fuzz.h"

static int
sink(void *arg, const void *buf, size_t n)
{
	fuzz_touch(buf, n);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_money money[2] = { { "amount", 0 }, { "bonus", 0 } };
	struct gb_mtable mt = { .name = "t", .file = "t.csv", .rows = 1,
	    .bytes = size, .sha256 = "", .key = "", .money = money,
	    .nmoney = 2 };
	struct fuzz_mem m = { data, size, 0, size % 5 };
	char err[512];

	gb_check_table_to(&mt, fuzz_mem_read, &m, sink, NULL, fuzz_rec, NULL, err,
	    sizeof err);
	/* and the reader alone, without the money columns */
	{
		struct fuzz_mem m2 = { data, size, 0, 0 };
		struct gb_csv_reader *r = gb_csv_open_cb(fuzz_mem_read, &m2);
		struct gb_csv_field *f;
		size_t nf;
		int got;
		while ((got = gb_csv_next(r, &f, &nf)) == 1)
			fuzz_rec(NULL, f, nf, err, sizeof err);
		if (got == -1)
			fuzz_touch(gb_csv_error(r), strlen(gb_csv_error(r)));
		gb_csv_close(r);
	}
	return 0;
}
