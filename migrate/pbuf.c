/* A minimal, bounds-checked protobuf (proto2 wire format) reader for the
 * handful of CRIU image fields vsd checks before a restore. It reads
 * untrusted bytes (an image may come from a backup or another node), so
 * every length is checked against the end of the buffer, varints are
 * limited to 10 bytes, and the reader allocates nothing. The writer below
 * re-encodes the few messages vsd changes (vs_mig_image_shift_ids). */
#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"
#include "migrate/mig-private.h"

static int pb_varint(struct vs_mig_pb *pb, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t c;
		if (pb->p >= pb->end)
			return -1;
		c = *pb->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

int vs_mig_pb_next(struct vs_mig_pb *pb, struct vs_mig_pb_field *f)
{
	uint64_t key, len;

	if (pb->p >= pb->end)
		return 0;
	if (pb_varint(pb, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (unsigned)(key & 7);
	f->v = 0;
	f->sub.p = f->sub.end = NULL;
	switch (f->wt) {
	case 0:
		return pb_varint(pb, &f->v) < 0 ? -1 : 1;
	case 1:
	case 5: {
		size_t n = f->wt == 1 ? 8 : 4;
		if ((size_t)(pb->end - pb->p) < n)
			return -1;
		for (size_t i = 0; i < n; i++)
			f->v |= (uint64_t)pb->p[i] << (8 * i);
		pb->p += n;
		return 1;
	}
	case 2:
		if (pb_varint(pb, &len) < 0 || len > (uint64_t)(pb->end - pb->p))
			return -1;
		f->sub.p = pb->p;
		f->sub.end = pb->p + len;
		f->v = len;
		pb->p += len;
		return 1;
	default:
		return -1; /* groups (3, 4) are not used by CRIU */
	}
}

int vs_mig_pb_u32s(const struct vs_mig_pb_field *f, uint32_t *vals, size_t max, size_t *n)
{
	if (f->wt == 0) {
		if (*n >= max || f->v > UINT32_MAX)
			return -1;
		vals[(*n)++] = (uint32_t)f->v;
		return 0;
	}
	if (f->wt != 2)
		return -1;
	/* packed */
	struct vs_mig_pb pb = f->sub;
	while (pb.p < pb.end) {
		uint64_t v;
		if (*n >= max || pb_varint(&pb, &v) < 0 || v > UINT32_MAX)
			return -1;
		vals[(*n)++] = (uint32_t)v;
	}
	return 0;
}

bool vs_mig_pb_str(const struct vs_mig_pb_field *f, char *out, size_t len)
{
	size_t n = (size_t)(f->sub.end - f->sub.p);

	if (f->wt != 2 || n >= len || memchr(f->sub.p, '\0', n) != NULL)
		return false;
	memcpy(out, f->sub.p, n);
	out[n] = '\0';
	return true;
}

int vs_mig_img_open(const uint8_t *buf, size_t len, struct vs_mig_pb *entries, uint32_t *magic)
{
	size_t off = 4;

	if (len < 4)
		return -1;
	memcpy(magic, buf, 4);
	/* Most images start with a common (or service) magic, then their own;
	 * inventory.img has only its own. */
	if (*magic == VS_MIG_IMG_COMMON_MAGIC || *magic == VS_MIG_IMG_SERVICE_MAGIC) {
		if (len < 8)
			return -1;
		memcpy(magic, buf + 4, 4);
		off = 8;
	}
	entries->p = buf + off;
	entries->end = buf + len;
	return 0;
}

int vs_mig_img_next(struct vs_mig_pb *entries, struct vs_mig_pb *msg)
{
	uint32_t n;

	if (entries->p == entries->end)
		return 0;
	if (entries->end - entries->p < 4)
		return -1;
	memcpy(&n, entries->p, 4);
	entries->p += 4;
	if (n > (size_t)(entries->end - entries->p))
		return -1;
	msg->p = entries->p;
	msg->end = entries->p + n;
	entries->p += n;
	return 1;
}

/* ---- the writer: just enough to re-encode a message ---- */

void vs_mig_pbw_bytes(struct vs_mig_pbw *w, const void *b, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2 + 64;
		w->p = xrealloc(w->p, w->cap);
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

void vs_mig_pbw_varint(struct vs_mig_pbw *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	vs_mig_pbw_bytes(w, b, n);
}

void vs_mig_pbw_free(struct vs_mig_pbw *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}
