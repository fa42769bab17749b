/* fuzz-conf.c - the config file (gb_conf_load), lookups in it, cron times */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *types[] = { "table", "job", "pool", "medium" };
	struct gb_conf c;
	char err[512];
	char *path = fuzz_file("gymbackup.conf", data, size);

	if (gb_conf_load(&c, path, err, sizeof err) == 0) {
		for (size_t i = 0; i < c.n; i++) {
			const struct gb_conf_entry *e = &c.e[i];
			if (gb_conf_get(&c, e->section, e->key) == NULL ||
			    !gb_conf_has_section(&c, e->section))
				abort();
			fuzz_touch(e->value, strlen(e->value));
		}
		for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
			size_t it = 0;
			const char *name;
			while ((name = gb_conf_next_section(&c, types[k], &it)))
				fuzz_touch(name, strlen(name));
		}
		gb_conf_get(&c, "keys", "signer");
		gb_conf_check_sections(&c, err, sizeof err);
		/* the cron times of lib/job.c, valid or not */
		for (size_t i = 0; i < c.n; i++)
			if (strcmp(c.e[i].key, "schedule") == 0) {
				char *w = gb_cron_words(c.e[i].value);
				/* a valid time is said in words */
				if (gb_cron_valid(c.e[i].value) && !*w)
					abort();
				fuzz_touch(w, strlen(w));
				free(w);
			}
		gb_conf_free(&c);
	}
	free(path);
	return 0;
}
