/*
 * tar.c - the tar entries of the export stream and of the packed archive,
 * written by gb-export and gb-pack (through libarchive), and MANIFEST read
 * back from a packed archive's first gzip member, as gb-seal needs it
 * before a byte is sealed.  gb-verify and gb-restore walk the whole tar
 * through libarchive (unpack.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "gb.h"

#define PREFIX_MAX (16 << 20)	/* MANIFEST's gzip member must fit */

int
gb_tar_format(struct archive *a, int block)
{
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, block) != ARCHIVE_OK)
		return -1;
	/* blocked: no padding of the last block beyond tar's own end */
	if (block && archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		return -1;
	return 0;
}

int
gb_tar_header(struct archive *a, struct archive_entry *e, const char *name,
    int64_t size, time_t mtime)
{
	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
}

/* octal field of a tar header */
static uint64_t
tar_size(const unsigned char *h)
{
	uint64_t v = 0;

	for (int i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(h[i] - '0');
	return v;
}

/*
 * A short name and a small size, as gb-pack writes MANIFEST, are a plain
 * ustar header: no pax extension to read first.
 */
int64_t
gb_tar_first(const void *tar, size_t len, const char *name)
{
	const unsigned char *h = tar;

	if (len < 512 || memcmp(h, name, strlen(name) + 1) != 0 ||
	    tar_size(h) > len - 512)
		return -1;
	return (int64_t)tar_size(h);
}

int
gb_pack_manifest(int fd, unsigned char **prefix, size_t *prefix_len,
    char **text, size_t *len)
{
	z_stream z;
	unsigned char *tar = NULL;
	size_t tarcap = 0, cap = 0;
	int64_t size;
	int r = Z_OK, e;

	*prefix = NULL;
	*prefix_len = 0;
	*text = NULL;
	*len = 0;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		gb_errx(GB_EXIT_RUN, "zlib: cannot start");
	while (r != Z_STREAM_END) {
		ssize_t n;
		if (*prefix_len == cap) {
			if (cap >= PREFIX_MAX)
				break;
			cap = cap ? 2 * cap : 65536;
			*prefix = gb_realloc(*prefix, cap);
		}
		n = read(fd, *prefix + *prefix_len, cap - *prefix_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			inflateEnd(&z);
			free(tar);
			errno = e;
			return -2;
		}
		if (n == 0)
			break;
		z.next_in = *prefix + *prefix_len;
		z.avail_in = (uInt)n;
		*prefix_len += (size_t)n;
		while (z.avail_in > 0 && r != Z_STREAM_END) {
			if (z.total_out == tarcap) {
				if (tarcap >= PREFIX_MAX)
					break;
				tarcap = tarcap ? 2 * tarcap : 65536;
				tar = gb_realloc(tar, tarcap);
			}
			z.next_out = tar + z.total_out;
			z.avail_out = (uInt)(tarcap - z.total_out);
			r = inflate(&z, Z_NO_FLUSH);
			if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
				break;
		}
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			break;
	}
	size = r == Z_STREAM_END ? gb_tar_first(tar, z.total_out, "MANIFEST") :
	    -1;
	if (size >= 0) {
		*text = gb_strndup((char *)tar + 512, (size_t)size);
		*len = (size_t)size;
	}
	inflateEnd(&z);
	free(tar);
	return size >= 0 ? 0 : -1;
}
