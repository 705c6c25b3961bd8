/* Memory pre-copy rounds (docs/migration.md, "Memory pre-copy rounds"):
 * when to stop them, and how many pages a round sent (CRIU's stats-dump).
 * The rounds' directory layout and its checks are in pages.c. */
#include <stdio.h>
#include <string.h>

#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"

/* CRIU's stats image (images/magic.h STATS_MAGIC, under the service magic). */
#define STATS_MAGIC 0x57093306u

enum vs_mig_precopy_next vs_mig_precopy_next(const uint64_t *pages, size_t n)
{
	uint64_t last;

	if (n == 0)
		return VS_MIG_PRECOPY_AGAIN;
	last = pages[n - 1];
	if (last <= VS_MIG_PRECOPY_FEW_PAGES)
		return VS_MIG_PRECOPY_FEW;
	if (n >= 2 && last >= pages[n - 2])
		return VS_MIG_PRECOPY_GREW;
	if (n >= VS_MIG_PRECOPY_ROUNDS)
		return VS_MIG_PRECOPY_LIMIT;
	return VS_MIG_PRECOPY_AGAIN;
}

const char *vs_mig_precopy_reason(enum vs_mig_precopy_next r)
{
	switch (r) {
	case VS_MIG_PRECOPY_FEW:
		return "few pages left";
	case VS_MIG_PRECOPY_GREW:
		return "the round did not shrink";
	case VS_MIG_PRECOPY_LIMIT:
		return "the round limit";
	case VS_MIG_PRECOPY_AGAIN:
		break;
	}
	return "another round";
}

/* dump_stats_entry (images/stats.proto): pages_written = 7,
 * shpages_written = 14, inside stats_entry.dump = 1. */
int vs_mig_dump_stats_pages(const uint8_t *buf, size_t len, uint64_t *pages)
{
	struct vs_mig_pb entries, msg, dump;
	struct vs_mig_pb_field f;
	uint32_t magic;
	bool found = false, have_dump = false;
	int r;

	*pages = 0;
	if (vs_mig_img_open(buf, len, &entries, &magic) < 0 || magic != STATS_MAGIC ||
	    vs_mig_img_next(&entries, &msg) != 1)
		return -1;
	while ((r = vs_mig_pb_next(&msg, &f)) > 0)
		if (f.num == 1 && f.wt == 2) {
			dump = f.sub;
			have_dump = true;
		}
	if (r < 0 || !have_dump)
		return -1;
	while ((r = vs_mig_pb_next(&dump, &f)) > 0)
		if (f.wt == 0 && (f.num == 7 || f.num == 14)) {
			*pages += f.v;
			found |= f.num == 7;
		}
	return r < 0 || !found ? -1 : 0;
}
