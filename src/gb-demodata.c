/*
 * gb-demodata - make a reference gym database full of deterministic demo
 * data: the front desk of a chain of gyms, with the awkward values real
 * front desks produce.  Same seed, same rows, same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gb.h"

/* share/gym-schema.sql as a C string, made by the Makefile. */
static const char schema_sql[] =
#include "gym-schema.inc"
    ;

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Times: the data ends at a fixed instant, never the wall clock, and
 * spreads over the two years before it.
 */
#define DAY	86400
#define SPAN	(730LL * DAY)		/* 2023-01-01 .. 2024-12-31 */
static int64_t epoch_days;		/* days from 1970-01-01 to 2023-01-01 */

static _Noreturn void
usage(FILE *f, int status)
{
	fprintf(f, "usage: %s [-s seed] [-n rows] [-S stores] -o path\n",
	    gb_progname);
	exit(status);
}

/* splitmix64: small, fast, and the same on every platform. */
struct rng {
	uint64_t s;
};

static void
rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL ^ stream * 0xd1b54a32d192ed03ULL;
}

static uint64_t
rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint64_t
below(struct rng *r, uint64_t n)
{
	return n ? rnext(r) % n : 0;
}

/* True in pct percent of the calls (pct may be fractional). */
static int
chance(struct rng *r, double pct)
{
	return (double)below(r, 1000000) < pct * 10000;
}

#define PICK(r, a)	((a)[below((r), NELEM(a))])

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" for days after 2023-01-01 (may be negative). */
static void
fmt_date(char buf[11], int64_t days)
{
	int y, m, d;

	civil_from_days(epoch_days + days, &y, &m, &d);
	put2(buf, y / 100);
	put2(buf + 2, y % 100);
	buf[4] = '-';
	put2(buf + 5, m);
	buf[7] = '-';
	put2(buf + 8, d);
	buf[10] = '\0';
}

/* "YYYY-MM-DD HH:MM:SS" for seconds after 2023-01-01 00:00:00. */
static void
fmt_time(char buf[20], int64_t t)
{
	int s = (int)(t % DAY);

	fmt_date(buf, t / DAY);
	buf[10] = ' ';
	put2(buf + 11, s / 3600);
	buf[13] = ':';
	put2(buf + 14, s / 60 % 60);
	buf[16] = ':';
	put2(buf + 17, s % 60);
	buf[19] = '\0';
}

/* Squeeze a time into the opening hours, 06:00 to 23:00, keeping order. */
static int64_t
open_hours(int64_t t)
{
	return t / DAY * DAY + 6 * 3600 + t % DAY * 17 / 24;
}

/* A random time in the two years, during opening hours. */
static int64_t
any_time(struct rng *r)
{
	return open_hours((int64_t)below(r, SPAN));
}

/*
 * The i-th of n events spread in order over the two years: transaction
 * tables are appended in time order.
 */
static int64_t
event_time(struct rng *r, uint64_t i, uint64_t n)
{
	int64_t step = SPAN / (int64_t)(n ? n : 1), p;

	p = (int64_t)((double)i / (double)(n ? n : 1) * (double)SPAN) +
	    (int64_t)below(r, (uint64_t)(step > 1 ? step : 1));
	return open_hours(p < SPAN ? p : SPAN - 1);
}

/* The awkward values real front desks produce. */
static const char *const surnames[] = {
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐",
	"孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁",
	"欧阳", "司马", "诸葛", "上官"
};
static const char *const given[] = {
	"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋",
	"勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚",
	"桂英", "娜娜", "子涵", "浩然", "一诺", "欣怡"
};
static const char *const first[] = {
	"Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hiro",
	"Isabel", "Jamal", "Kenji", "Laura", "Mei", "Noah", "Olga", "Priya",
	"José", "Zoë", "Søren", "Mary-Jane"
};
static const char *const last[] = {
	"Smith", "Brown", "Garcia", "Müller", "Nguyen", "Kim", "Tanaka",
	"Rossi", "O'Brien", "D'Angelo", "van der Berg", "Lee", "Wong",
	"Ivanova", "Okafor"
};
/* Shown by the first members of every database, then now and then. */
static const char *const odd_names[] = {
	"张伟", "王芳", "李娜", "欧阳娜娜", "O'Brien", "Tom \"the rock\" Lee",
	"Smith, John", " Anna ", "Lee  ", "李娜 (Li Na)", "\"Bobby\"",
	"Zoë O'Connor-Ng", "NULL", "\\N", "Ann\tMarie", "=1+1"
};
static const char *const notes[] = {
	"VIP, prefers morning classes",
	"line one\nline two",
	"Paid cash.\r\nReceipt lost, see manager",
	"Said \"call me back\" twice",
	"  spaces around  ",
	"年卡会员，周末来",
	"C:\\Users\\front\\scan.jpg",
	"trailing backslash\\",
	"NULL",
	"\\N",
	"tab\there",
	"50% off, \"gold\" upgrade, ask Li",
	" ",
	"\"",
	",",
	"emoji 💪🏋️",
	"",
};
static const char *const phones[] = {
	"+86 139 0000 1234", " 13512345678", "13800138000 ", "021-6543 2100 ext. 12",
	"(010) 8888-6666", "n/a", "0"
};
static const char *const operators[] = {
	"前台小王", "Li Na", "Mary-Jane", "O'Neil", "admin", "desk2",
	" manager ", "张伟"
};
static const char *const levels[] = { "standard", "silver", "gold", "platinum" };
static const char *const cities[] = {
	"北京", "上海", "广州", "深圳", "杭州", "成都", "Singapore",
	"Hong Kong", "São Paulo", "Zürich"
};
static const char *const districts[] = {
	"Downtown", "Riverside", "Airport", "University", "Old Town",
	"Harbour", "朝阳", "浦东", "天河", "West Lake"
};
static const char *const streets[] = {
	"88 Nanjing Rd, Floor 3, Room 301", "1 Main St.", "Unit 5, 12 \"Pearl\" Plaza",
	"中山路100号", "Block B\n2nd floor", "  7 Harbour View  "
};
struct item {
	const char *name;
	int64_t price;		/* cents */
};
static const struct item items[] = {
	{ "Day pass", 6800 },
	{ "Personal training (60 min)", 38000 },
	{ "Group class: spinning", 9900 },
	{ "Group class: yoga", 8800 },
	{ "Protein shake", 2800 },
	{ "蛋白粉", 2500 },
	{ "Towel rental", 500 },
	{ "Locker, monthly", 15000 },
	{ "矿泉水", 300 },
	{ "Swimming, 10 visits", 45000 },
	{ "Boxing gloves \"Pro\" 12oz", 29900 },
	{ "Sauna", 0 },
};
static const char *const payments[] = {
	"balance", "balance", "balance", "wechat", "alipay", "cash", "card",
	"unionpay"
};
static const char *const corr_notes[] = {
	"correction: wrong item", "refund, customer complaint",
	"correction: entered twice", "冲正", NULL
};
/* Percentages as front-desk software stores them, float artefacts too. */
static const double discounts[] = {
	0.1, 33.333333333333336, 12.5, 5, 20, 0.30000000000000004, 66.66666666666667,
	1e-05, 15.000000000000002, 50
};
static const char *const promo_titles[] = {
	"Double 11 双十一, 50% off", "New Year \"Mega\" Sale", "Summer\nSpecial",
	"Bring a friend", "春节充值送", "Student week", " Spring reset ",
	"Top up 1000, get 100", "O'Brien's birthday"
};

struct db {
	sqlite3 *db;
	const char *path;
};

static _Noreturn void
dbfail(struct db *d, const char *what)
{
	int full = sqlite3_errcode(d->db) == SQLITE_FULL;

	gb_errx(GB_EXIT_RUN, "%s: %s: %s%s", d->path, what,
	    sqlite3_errmsg(d->db), full ? "; free some space or choose "
	    "another directory (the database takes about 120 bytes a row)" : "");
}

static void
exec_as(struct db *d, const char *sql, const char *what)
{
	if (sqlite3_exec(d->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		dbfail(d, what);
}

static void
exec(struct db *d, const char *sql)
{
	exec_as(d, sql, sql);
}

static sqlite3_stmt *
prepare(struct db *d, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		dbfail(d, sql);
	return st;
}

static void
step(struct db *d, sqlite3_stmt *st, const char *table)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		dbfail(d, table);
	sqlite3_reset(st);
}

/* Bind text, or NULL for a NULL pointer; the text outlives the step. */
static void
btext(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void
bint(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

static void
bidnull(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* NULL, "", or an awkward note, now and then; NULL most of the time. */
static const char *
odd_note(struct rng *r, double pct)
{
	if (!chance(r, pct))
		return NULL;
	return PICK(r, notes);
}

static const char *
operator(struct rng *r)
{
	uint64_t k = below(r, 100);

	if (k < 5)
		return NULL;
	if (k < 7)
		return "";
	return PICK(r, operators);
}

static void
fill_stores(struct db *d, uint64_t seed, int64_t n)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO stores (id, code, name, "
	    "city, address, opened_on, updated_at) VALUES (?,?,?,?,?,?,?)");
	struct rng r;
	char code[32], name[128], opened[11], upd[20];
	const char *city;

	rng_init(&r, seed, 1);
	for (int64_t id = 1; id <= n; id++) {
		city = chance(&r, 10) ? NULL : PICK(&r, cities);
		snprintf(code, sizeof code, "S%04" PRId64, id);
		if (id % 7 == 3)
			snprintf(name, sizeof name, "%s%s店", city ? city : "",
			    PICK(&r, districts));
		else
			snprintf(name, sizeof name, "%s %s #%" PRId64,
			    city ? city : "Gym", PICK(&r, districts), id);
		fmt_date(opened, -(int64_t)below(&r, 12 * 365));
		fmt_time(upd, any_time(&r));
		bint(st, 1, id);
		btext(st, 2, code);
		btext(st, 3, name);
		btext(st, 4, city);
		btext(st, 5, chance(&r, 10) ? NULL : PICK(&r, streets));
		btext(st, 6, chance(&r, 5) ? NULL : opened);
		btext(st, 7, upd);
		step(d, st, "stores");
	}
	sqlite3_finalize(st);
}

static void
fill_promotions(struct db *d, uint64_t seed, int64_t n)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO promotions (id, code, "
	    "title, kind, discount_pct, bonus_amount, starts_on, ends_on, "
	    "updated_at) VALUES (?,?,?,?,?,?,?,?,?)");
	struct rng r;
	char code[32], title[160], from[11], to[11], upd[20];
	int64_t start, t;

	rng_init(&r, seed, 2);
	for (int64_t id = 1; id <= n; id++) {
		snprintf(code, sizeof code, "P%05" PRId64, id);
		snprintf(title, sizeof title, "%s", id <= (int64_t)NELEM(
		    promo_titles) ? promo_titles[id - 1] : PICK(&r, promo_titles));
		start = (int64_t)below(&r, 700);
		fmt_date(from, start);
		fmt_date(to, start + 7 + (int64_t)below(&r, 60));
		t = start * DAY - (int64_t)below(&r, 30 * DAY);
		fmt_time(upd, open_hours(t > 0 ? t : 0));
		bint(st, 1, id);
		btext(st, 2, code);
		btext(st, 3, title);
		if (id % 2) {
			btext(st, 4, "discount");
			/* The first ones show every awkward percentage. */
			sqlite3_bind_double(st, 5, id / 2 < (int64_t)NELEM(
			    discounts) ? discounts[id / 2] : PICK(&r, discounts));
			sqlite3_bind_null(st, 6);
		} else {
			btext(st, 4, "bonus");
			sqlite3_bind_null(st, 5);
			bint(st, 6, 1000 * (1 + (int64_t)below(&r, 50)));
		}
		btext(st, 7, id % 5 == 4 ? NULL : from);
		btext(st, 8, id % 3 == 2 ? NULL : to);
		btext(st, 9, upd);
		step(d, st, "promotions");
	}
	sqlite3_finalize(st);
}

static void
fill_members(struct db *d, uint64_t seed, int64_t n, int64_t nstores)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO members (id, card_no, name, "
	    "phone, level, balance, status, home_store_id, note, photo, "
	    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
	struct rng r;
	char card[32], name[128], phone[32], created[20], upd[20];
	unsigned char photo[96];
	const char *ph, *status, *note;
	int64_t c, bal, k;
	size_t plen;

	rng_init(&r, seed, 3);
	for (int64_t id = 1; id <= n; id++) {
		snprintf(card, sizeof card, "88%010" PRId64, id);

		/* Names: every odd one in the first members, then 2%. */
		if (id <= (int64_t)NELEM(odd_names))
			snprintf(name, sizeof name, "%s", odd_names[id - 1]);
		else if (chance(&r, 2))
			snprintf(name, sizeof name, "%s", PICK(&r, odd_names));
		else if (chance(&r, 65))
			snprintf(name, sizeof name, "%s%s", PICK(&r, surnames),
			    PICK(&r, given));
		else
			snprintf(name, sizeof name, "%s %s", PICK(&r, first),
			    PICK(&r, last));

		k = (int64_t)below(&r, 100);
		if (id == 2 || (id != 3 && k < 8))
			ph = NULL;
		else if (id == 3 || k < 11)
			ph = "";
		else if (k < 15)
			ph = PICK(&r, phones);
		else {
			snprintf(phone, sizeof phone, "1%02d%08" PRIu64,
			    30 + (int)below(&r, 60), below(&r, 100000000));
			ph = phone;
		}

		k = (int64_t)below(&r, 100);
		if (k < 30)
			bal = 0;
		else if (k < 99)
			bal = (int64_t)below(&r, 500000);
		else
			bal = (int64_t)below(&r, 10000000000LL);

		k = (int64_t)below(&r, 100);
		status = k < 85 ? "active" : k < 93 ? "frozen" : "cancelled";

		note = id <= (int64_t)NELEM(notes) ? notes[id - 1] :
		    odd_note(&r, 15);

		c = (int64_t)below(&r, SPAN);
		fmt_time(created, open_hours(c));
		fmt_time(upd, open_hours(c + (int64_t)below(&r,
		    (uint64_t)(SPAN - c))));

		bint(st, 1, id);
		btext(st, 2, card);
		btext(st, 3, name);
		btext(st, 4, ph);
		btext(st, 5, PICK(&r, levels));
		bint(st, 6, bal);
		btext(st, 7, status);
		bidnull(st, 8, chance(&r, 3) ? 0 :
		    1 + (int64_t)below(&r, (uint64_t)nstores));
		btext(st, 9, note);

		/* A small fake JPEG now and then, NUL and 0xff bytes in it. */
		if (id == 1 || (id > 3 && chance(&r, 5))) {
			static const unsigned char jfif[] = { 0xff, 0xd8, 0xff,
			    0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00 };
			plen = sizeof jfif + 8 + below(&r, 64);
			memcpy(photo, jfif, sizeof jfif);
			for (size_t i = sizeof jfif; i < plen - 2; i++)
				photo[i] = (unsigned char)rnext(&r);
			photo[plen - 2] = 0xff;
			photo[plen - 1] = 0xd9;
			sqlite3_bind_blob(st, 10, photo, (int)plen,
			    SQLITE_STATIC);
		} else if (id == 3)	/* an empty upload: not NULL */
			sqlite3_bind_blob(st, 10, "", 0, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 10);
		btext(st, 11, created);
		btext(st, 12, upd);
		step(d, st, "members");
	}
	sqlite3_finalize(st);
}

/* The last few rows of a transaction table, for corrections. */
#define NRECENT 64
struct recent {
	int64_t id, member, store, qty, amount, bonus;
	int item, pay;
	int64_t t;
};

static void
fill_consumptions(struct db *d, uint64_t seed, int64_t n, int64_t nmembers,
    int64_t nstores)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO consumptions (id, "
	    "member_id, store_id, item, quantity, amount, payment_method, "
	    "operator, note, consumed_at, corrects_id) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	struct recent rec[NRECENT], *o, cur;
	size_t nrec = 0;
	struct rng r;
	char at[20];

	rng_init(&r, seed, 4);
	for (int64_t id = 1; id <= n; id++) {
		cur.t = event_time(&r, (uint64_t)id - 1, (uint64_t)n);
		if (nrec > 0 && chance(&r, 1)) {
			/* A correction: the same sale, negative, later. */
			o = &rec[below(&r, nrec < NRECENT ? nrec : NRECENT)];
			fmt_time(at, cur.t > o->t ? cur.t : o->t + 60);
			bint(st, 2, o->member);
			bint(st, 3, o->store);
			btext(st, 4, items[o->item].name);
			bint(st, 5, -o->qty);
			bint(st, 6, -o->amount);
			btext(st, 7, payments[o->pay]);
			btext(st, 8, chance(&r, 50) ? "manager" : operator(&r));
			btext(st, 9, PICK(&r, corr_notes));
			bint(st, 11, o->id);
		} else {
			cur.id = id;
			cur.member = 1 + (int64_t)below(&r, (uint64_t)nmembers);
			cur.store = 1 + (int64_t)below(&r, (uint64_t)nstores);
			cur.item = (int)below(&r, NELEM(items));
			cur.qty = chance(&r, 80) ? 1 : 2 + (int64_t)below(&r, 9);
			cur.amount = cur.qty * items[cur.item].price;
			cur.pay = (int)below(&r, NELEM(payments));
			rec[nrec++ % NRECENT] = cur;
			fmt_time(at, cur.t);
			bint(st, 2, cur.member);
			bint(st, 3, cur.store);
			btext(st, 4, items[cur.item].name);
			bint(st, 5, cur.qty);
			bint(st, 6, cur.amount);
			btext(st, 7, payments[cur.pay]);
			btext(st, 8, operator(&r));
			btext(st, 9, odd_note(&r, 3));
			sqlite3_bind_null(st, 11);
		}
		bint(st, 1, id);
		btext(st, 10, at);
		step(d, st, "consumptions");
	}
	sqlite3_finalize(st);
}

static void
fill_recharges(struct db *d, uint64_t seed, int64_t n, int64_t nmembers,
    int64_t nstores)
{
	static const char *const methods[] = { "wechat", "alipay", "cash",
	    "card", "transfer", "voucher" };
	sqlite3_stmt *st = prepare(d, "INSERT INTO recharges (id, member_id, "
	    "store_id, amount, bonus, method, operator, recharged_at, "
	    "corrects_id) VALUES (?,?,?,?,?,?,?,?,?)");
	struct recent rec[NRECENT], *o, cur;
	size_t nrec = 0;
	struct rng r;
	char at[20];
	int64_t k;

	rng_init(&r, seed, 5);
	for (int64_t id = 1; id <= n; id++) {
		cur.t = event_time(&r, (uint64_t)id - 1, (uint64_t)n);
		if (nrec > 0 && chance(&r, 1)) {
			o = &rec[below(&r, nrec < NRECENT ? nrec : NRECENT)];
			fmt_time(at, cur.t > o->t ? cur.t : o->t + 60);
			bint(st, 2, o->member);
			bint(st, 3, o->store);
			bint(st, 4, -o->amount);
			bint(st, 5, -o->bonus);
			btext(st, 6, methods[o->pay]);
			btext(st, 7, chance(&r, 50) ? "manager" : operator(&r));
			bint(st, 9, o->id);
		} else {
			cur.id = id;
			cur.member = 1 + (int64_t)below(&r, (uint64_t)nmembers);
			cur.store = 1 + (int64_t)below(&r, (uint64_t)nstores);
			k = (int64_t)below(&r, 1000);
			if (id == 1)	/* the biggest a front desk allows */
				cur.amount = 99999999999LL;
			else if (k < 5)
				cur.amount = 1 + (int64_t)below(&r,
				    99999999999ULL);
			else
				cur.amount = 10000 * (1 + (int64_t)below(&r,
				    50)) + (k < 100 ? (int64_t)below(&r, 100) :
				    0);
			cur.bonus = cur.amount >= 100000 && chance(&r, 40) ?
			    cur.amount / 10 : 0;
			cur.pay = (int)below(&r, NELEM(methods));
			rec[nrec++ % NRECENT] = cur;
			fmt_time(at, cur.t);
			bint(st, 2, cur.member);
			bint(st, 3, cur.store);
			bint(st, 4, cur.amount);
			bint(st, 5, cur.bonus);
			btext(st, 6, methods[cur.pay]);
			btext(st, 7, operator(&r));
			sqlite3_bind_null(st, 9);
		}
		bint(st, 1, id);
		btext(st, 8, at);
		step(d, st, "recharges");
	}
	sqlite3_finalize(st);
}

static void
fill_participations(struct db *d, uint64_t seed, int64_t n,
    int64_t npromos, int64_t nmembers, int64_t nstores)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO promotion_participations "
	    "(id, promotion_id, member_id, store_id, joined_at, benefit_amount) "
	    "VALUES (?,?,?,?,?,?)");
	struct rng r;
	char at[20];

	rng_init(&r, seed, 6);
	for (int64_t id = 1; id <= n; id++) {
		fmt_time(at, event_time(&r, (uint64_t)id - 1, (uint64_t)n));
		bint(st, 1, id);
		bint(st, 2, 1 + (int64_t)below(&r, (uint64_t)npromos));
		bint(st, 3, 1 + (int64_t)below(&r, (uint64_t)nmembers));
		bint(st, 4, 1 + (int64_t)below(&r, (uint64_t)nstores));
		btext(st, 5, at);
		bint(st, 6, chance(&r, 10) ? 0 : 100 * (int64_t)below(&r, 2000));
		step(d, st, "promotion_participations");
	}
	sqlite3_finalize(st);
}

static void
fill_checkins(struct db *d, uint64_t seed, int64_t n, int64_t nmembers,
    int64_t nstores)
{
	sqlite3_stmt *st = prepare(d, "INSERT INTO checkins (id, member_id, "
	    "store_id, checked_in_at, checked_out_at) VALUES (?,?,?,?,?)");
	struct rng r;
	char in[20], out[20];
	int64_t t;

	rng_init(&r, seed, 7);
	for (int64_t id = 1; id <= n; id++) {
		t = event_time(&r, (uint64_t)id - 1, (uint64_t)n);
		fmt_time(in, t);
		fmt_time(out, t + 1800 + (int64_t)below(&r, 3 * 3600));
		bint(st, 1, id);
		bint(st, 2, 1 + (int64_t)below(&r, (uint64_t)nmembers));
		bint(st, 3, 1 + (int64_t)below(&r, (uint64_t)nstores));
		btext(st, 4, in);
		btext(st, 5, chance(&r, 3) ? NULL : out);	/* forgot */
		step(d, st, "checkins");
	}
	sqlite3_finalize(st);
}

/*
 * The schema's indexes are dropped during the fill and made again at the
 * end from the same SQL: building an index from sorted data is several
 * times faster than keeping it up to date row by row.
 */
struct index {
	char *table, *name, *sql;
};

static struct index *
drop_indexes(struct db *d, size_t *n)
{
	sqlite3_stmt *st = prepare(d, "SELECT tbl_name, name, sql "
	    "FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
	    "ORDER BY rowid");
	struct index *ix = NULL;
	char *sql;
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ix = gb_realloc(ix, (*n + 1) * sizeof *ix);
		ix[*n].table = gb_strdup((const char *)sqlite3_column_text(st, 0));
		ix[*n].name = gb_strdup((const char *)sqlite3_column_text(st, 1));
		ix[*n].sql = gb_strdup((const char *)sqlite3_column_text(st, 2));
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		dbfail(d, "reading the schema");
	sqlite3_finalize(st);
	for (size_t i = 0; i < *n; i++) {
		sql = sqlite3_mprintf("DROP INDEX \"%w\"", ix[i].name);
		exec(d, sql);
		sqlite3_free(sql);
	}
	return ix;
}

/* The tables a helper thread fills, in a database file of its own. */
static const char *const aux_tables[] = {
	"stores", "promotions", "members", "recharges",
	"promotion_participations", "checkins"
};

static int
is_aux(const char *table)
{
	for (size_t i = 0; i < NELEM(aux_tables); i++)
		if (strcmp(table, aux_tables[i]) == 0)
			return 1;
	return 0;
}

/* Make the indexes again: of the helper's tables only, or of all. */
static void
make_indexes(struct db *d, struct index *ix, size_t n, int aux_only)
{
	for (size_t i = 0; i < n; i++) {
		if (!aux_only || is_aux(ix[i].table))
			exec(d, ix[i].sql);
		free(ix[i].table);
		free(ix[i].name);
		free(ix[i].sql);
	}
	free(ix);
}

/* A new database with the schema, in an open transaction; fast, unsafe. */
static struct index *
open_db(struct db *d, const char *path, size_t *nix)
{
	d->path = path;
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		dbfail(d, "open");
	exec(d, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
	    "PRAGMA cache_size = -65536");
	exec(d, "BEGIN");
	exec_as(d, schema_sql, "the schema (share/gym-schema.sql)");
	return drop_indexes(d, nix);
}

static void
close_db(struct db *d)
{
	if (sqlite3_close(d->db) != SQLITE_OK)
		dbfail(d, "close");
}

/* How many rows of each table, from -n and -S. */
struct plan {
	uint64_t seed;
	int64_t stores, promos, members, cons, rech, parts, chk;
	const char *aux;	/* the helper's database */
};

static void *
fill_aux(void *arg)
{
	const struct plan *p = arg;
	struct index *ix;
	struct db d;
	size_t nix;

	ix = open_db(&d, p->aux, &nix);
	fill_stores(&d, p->seed, p->stores);
	fill_promotions(&d, p->seed, p->promos);
	fill_members(&d, p->seed, p->members, p->stores);
	fill_recharges(&d, p->seed, p->rech, p->members, p->stores);
	fill_participations(&d, p->seed, p->parts, p->promos, p->members,
	    p->stores);
	fill_checkins(&d, p->seed, p->chk, p->members, p->stores);
	make_indexes(&d, ix, nix, 1);
	exec(&d, "COMMIT");
	close_db(&d);
	return NULL;
}

/* PATH with SUFFIX (a file SQLite may make) is removed on failure too. */
static void
cleanup_too(const char *path, const char *suffix)
{
	char *s = gb_asprintf("%s%s", path, suffix);

	gb_cleanup_add(s);
	free(s);
}

/* Make PATH, not there before, to be removed on failure. */
static void
create_new(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		if (errno == EEXIST)
			gb_errx(GB_EXIT_USAGE, "%s: already exists (left by an "
			    "interrupted run?); remove it", path);
		gb_err(GB_EXIT_RUN, "cannot create %s", path);
	}
	close(fd);
	gb_cleanup_add(path);
}

static uint64_t
number(const char *s, const char *opt, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max)
		gb_errx(GB_EXIT_USAGE, "%s %s: not a number from %" PRIu64
		    " to %" PRIu64, opt, s, min, max);
	return v;
}

static void
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fsync(fd) == -1)
		gb_err(GB_EXIT_RUN, "%s", path);
	close(fd);
}

int
main(int argc, char *argv[])
{
	struct plan p = { .seed = 1, .stores = 12 };
	int64_t rows = 20000, used;
	const char *out = NULL;
	char *tmp, *aux, *sql;
	struct db d;
	struct index *ix;
	size_t nix;
	struct stat sb;
	pthread_t helper;
	int ch, e;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((ch = getopt_long(argc, argv, "hs:n:S:o:", gb_stdopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout, GB_EXIT_OK);
		case 's':
			p.seed = number(optarg, "-s", 0, UINT64_MAX);
			break;
		case 'n':
			rows = (int64_t)number(optarg, "-n", 0, 4000000000ULL);
			break;
		case 'S':
			p.stores = (int64_t)number(optarg, "-S", 1, 1000000);
			break;
		case 'o':
			out = optarg;
			break;
		case GB_OPT_VERSION:
			gb_version();
		default:
			usage(stderr, GB_EXIT_USAGE);
		}
	}
	if (optind != argc || !out || !*out)
		usage(stderr, GB_EXIT_USAGE);

	/* Members ~5%, consumptions ~50%, recharges ~15%, ... of ROWS. */
	p.promos = rows / 20000 + 3;
	p.members = rows / 20 > 0 ? rows / 20 : 1;
	p.parts = rows / 20;
	p.rech = rows * 3 / 20;
	p.chk = rows / 4;
	used = p.stores + p.promos + p.members + p.parts + p.rech + p.chk;
	p.cons = rows > used ? rows - used : 0;
	epoch_days = days_from_civil(2023, 1, 1);

	if (lstat(out, &sb) == 0)
		gb_errx(GB_EXIT_USAGE, "%s: already exists; remove it or "
		    "name another file", out);
	tmp = gb_asprintf("%s.tmp", out);
	aux = gb_asprintf("%s.tmp2", out);
	create_new(tmp);
	cleanup_too(tmp, "-journal");
	cleanup_too(tmp, "-wal");
	cleanup_too(tmp, "-shm");
	create_new(aux);
	cleanup_too(aux, "-journal");
	gb_cleanup_signals();
	p.aux = aux;

	/*
	 * Two threads, a connection and a file each: this one fills
	 * consumptions, half the rows, while the helper fills the other
	 * tables and makes their indexes; then those are copied over, index
	 * pages and all, which is much faster than making them here.
	 */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if ((e = gb_thread_create(&helper, fill_aux, &p)) != 0)
		gb_errx(GB_EXIT_RUN, "cannot start a thread: %s", strerror(e));
	ix = open_db(&d, tmp, &nix);
	fill_consumptions(&d, p.seed, p.cons, p.members, p.stores);
	make_indexes(&d, ix, nix, 0);
	exec(&d, "COMMIT");
	if ((e = pthread_join(helper, NULL)) != 0)
		gb_errx(GB_EXIT_RUN, "thread: %s", strerror(e));
	sql = sqlite3_mprintf("ATTACH %Q AS aux", aux);
	exec(&d, sql);
	sqlite3_free(sql);
	exec(&d, "BEGIN");
	for (size_t i = 0; i < NELEM(aux_tables); i++) {
		sql = sqlite3_mprintf("INSERT INTO main.\"%w\" SELECT * FROM "
		    "aux.\"%w\"", aux_tables[i], aux_tables[i]);
		exec(&d, sql);
		sqlite3_free(sql);
	}
	exec(&d, "COMMIT");
	exec(&d, "DETACH aux");
	if (unlink(aux) == -1)
		gb_err(GB_EXIT_RUN, "%s", aux);

	/* The front desk's database runs in WAL mode; so does this one. */
	exec(&d, "PRAGMA journal_mode = WAL");
	close_db(&d);
	fsync_path(tmp);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == -1) {
		if (errno == EEXIST)
			gb_errx(GB_EXIT_USAGE, "%s: appeared while it was "
			    "being made; the new one is not kept", out);
		if ((errno != EINVAL && errno != ENOSYS) ||
		    rename(tmp, out) == -1)
			gb_err(GB_EXIT_RUN, "rename %s to %s", tmp, out);
	}
	gb_cleanup_forget(tmp);
	if (gb_fsync_parent(out) == -1)
		gb_err(GB_EXIT_RUN, "%s: fsync of its directory", out);
	gb_cleanup_run();	/* the rest were never made, or are gone */
	free(tmp);
	free(aux);
	return GB_EXIT_OK;
}
