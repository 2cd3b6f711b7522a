/*
 * `cargo xtask bench --decompress`'s C-library baseline (xtask/src/bench/decompress.rs builds
 * it with the system `cc -O2`): decodes one packed file with the C library in one call into
 * one buffer of the full output size, as rpvboot does (and as Linux's own boot decompressors
 * do), instead of streaming through a small window into a pipe as the command-line tools do.
 *
 *   decode-c FORMAT FILE SIZE [PASSES]     FORMAT: gzip, xz, zstd, lz4
 *   decode-c --versions                    the libraries' versions, on stdout
 *
 * SIZE is the uncompressed size (the loader has it from the bzImage's last word or the frame).
 * The output buffer is allocated once and reused by every pass; each pass reads the file
 * afresh and decodes it, as `target/pv/examples/decode` does, so that two passes minus one is
 * one more read + decode in a process whose memory is already set up. Prints per pass the
 * output length and the decode time to stderr, with DECODE_HASH=1 also the output's FNV-1a
 * (the same line as ours, so the bench checks both the same way). A decode error, or an output
 * of another length than SIZE, exits 1.
 *
 * gzip: zlib's inflate (gzip wrapper, Z_FINISH); xz: liblzma's lzma_stream_buffer_decode;
 * zstd: ZSTD_decompressDCtx; lz4: the legacy frame (`lz4 -l`, what Linux writes) walked here,
 * each block through LZ4_decompress_safe, as Linux's lib/decompress_unlz4.c does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0) {
		fclose(f);
		return NULL;
	}
	long n = ftell(f);
	rewind(f);
	unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Each decoder returns the output length, or -1 on error. */

static long long gunzip(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream s;
	memset(&s, 0, sizeof s);
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return -1;
	s.next_in = (unsigned char *)in;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	int rc = inflate(&s, Z_FINISH);
	long long got = rc == Z_STREAM_END ? (long long)s.total_out : -1;
	inflateEnd(&s);
	return got;
}

static long long unxz(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	uint64_t memlimit = UINT64_MAX;
	size_t in_pos = 0, out_pos = 0;
	lzma_ret rc = lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &in_pos, n, out, &out_pos, cap);
	return rc == LZMA_OK ? (long long)out_pos : -1;
}

static ZSTD_DCtx *dctx;

static long long unzstd(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	if (!dctx && !(dctx = ZSTD_createDCtx()))
		return -1;
	size_t got = ZSTD_decompressDCtx(dctx, out, cap, in, n);
	return ZSTD_isError(got) ? -1 : (long long)got;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

static long long unlz4(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t pos = 0, got = 0;
	if (n < 4 || le32(in) != LZ4_LEGACY_MAGIC)
		return -1;
	pos = 4;
	while (n - pos >= 4) {
		uint32_t csize = le32(in + pos);
		pos += 4;
		if (csize == LZ4_LEGACY_MAGIC) /* a further legacy frame */
			continue;
		if (csize > n - pos)
			return -1;
		size_t room = cap - got < LZ4_LEGACY_BLOCK ? cap - got : LZ4_LEGACY_BLOCK;
		int d = LZ4_decompress_safe((const char *)in + pos, (char *)out + got, (int)csize, (int)room);
		if (d < 0)
			return -1;
		got += (size_t)d;
		pos += csize;
	}
	return (long long)got;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--versions")) {
		printf("zlib %s, liblzma %s, libzstd %s, liblz4 %s\n", zlibVersion(), lzma_version_string(),
		       ZSTD_versionString(), LZ4_versionString());
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: decode-c FORMAT FILE SIZE [PASSES]\n");
		return 2;
	}
	long long (*dec)(const unsigned char *, size_t, unsigned char *, size_t);
	if (!strcmp(argv[1], "gzip"))
		dec = gunzip;
	else if (!strcmp(argv[1], "xz"))
		dec = unxz;
	else if (!strcmp(argv[1], "zstd"))
		dec = unzstd;
	else if (!strcmp(argv[1], "lz4"))
		dec = unlz4;
	else {
		fprintf(stderr, "unknown format %s\n", argv[1]);
		return 2;
	}
	size_t size = strtoull(argv[3], NULL, 10);
	int passes = argc > 4 ? atoi(argv[4]) : 1;
	unsigned char *out = malloc(size ? size : 1);
	if (!out) {
		fprintf(stderr, "cannot allocate %zu bytes\n", size);
		return 1;
	}
	for (int p = 0; p < passes; p++) {
		size_t n;
		unsigned char *in = read_file(argv[2], &n);
		if (!in) {
			fprintf(stderr, "%s: cannot read\n", argv[2]);
			return 1;
		}
		double t = now();
		long long got = dec(in, n, out, size);
		double secs = now() - t;
		free(in);
		if (got < 0 || (size_t)got != size) {
			fprintf(stderr, "%s: decode failed or output of %lld bytes, not %zu\n", argv[2], got, size);
			return 1;
		}
		if (getenv("DECODE_HASH")) {
			uint64_t h = 0xcbf29ce484222325ull;
			for (size_t i = 0; i < size; i++)
				h = (h ^ out[i]) * 0x100000001b3ull;
			fprintf(stderr, "%zu bytes fnv1a=%016llx %.5f s\n", size, (unsigned long long)h, secs);
		} else {
			fprintf(stderr, "%zu bytes %.5f s\n", size, secs);
		}
	}
	return 0;
}
