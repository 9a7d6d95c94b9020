/* Exact SSIM (scikit-image's defaults), PSNR and MAD of uint8 HxWxC frames, in one fused pass.
 *
 * Why it equals scikit-image: its SSIM (as sglang calls it) filters with a 7x7 *uniform*
 * window and crops a 3-pixel border, so every value it averages comes from a window wholly
 * inside the frame. Here every such window's sums of x, y, x^2 + y^2 and xy are exact int32
 * (running column sums over the 7 rows of a band, then a 7-tap horizontal sum); even the four
 * factors of the SSIM ratio, n^2 and n(n-1) times skimage's, are exact int32 (all < 2^29), and
 * only the ratio itself is computed in double. No padding mode is involved and |fast - skimage|
 * stays within ~1e-13, the rounding of scikit-image's own float filter (not merely within 1e-6:
 * a value 1e-9 from its gate is re-decided with scikit-image, gt_gen.metrics.GATE_MARGIN, which
 * relies on this; float32 ratios, ~7e-7 off in the worst case, would not do).
 *
 * One pass over memory: a frame is cut into row bands (their number depends on the frame, not on
 * the thread count, and their sums are added in band order: the result is the same on any
 * machine and any number of threads; see run_bands for how threads share them). A band walks
 * down its rows once. A row entering the window is read once from memory for everything: its
 * column-sum updates, and its sums of |a - b| per 8-value block and of (a - b)^2 (each row is
 * counted by exactly one band); it is read again, from cache, when it leaves the window 7 rows
 * later, and a band's first 6 rows are also read by the band above. Within a row the column sums
 * are updated strip by strip right before the strip's windows read them, still in L1. The GIL
 * is released meanwhile.
 *
 * The mean absolute difference is sglang's number: numpy's float32 ``.mean()`` of |a - b|, i.e.
 * numpy's pairwise summation in float32 (runs of <= 128 values are leaves; longer runs split at
 * n/2 rounded down to a multiple of 8) divided by float32(n). Every run but the last starts and
 * ends on a multiple of 8, so a leaf is a whole number of 8-value blocks; the block sums are
 * exact integers and so is every leaf sum (< 2^15): only the float32 adds above the leaves round,
 * and they are done here in numpy's order.
 *
 * Three builds of the band walk, chosen at run time: AVX-512 (F, BW, DQ, VL; 16 windows a
 * step, and with VBMI a 63-byte BGR reversal), AVX2 + FMA (16 windows as two halves of 8), and
 * portable C for any other CPU (setup.py builds the file for x86-64-v2 on x86). AVX-512 gives
 * AVX2's values bit for bit (the same operations per window, summed in the same order), so a
 * result does not depend on which of the two a machine has; portable C differs from them only
 * in SSIM's last bits. GT_GEN_FASTSSIM_ISA=portable or avx2 caps the choice, and so does the
 * optional ``isa`` argument of ``metrics`` (tests exercise every path the CPU has).
 * Threads: GT_GEN_FASTSSIM_THREADS (or OMP_NUM_THREADS) caps them; by default every CPU, backing
 * off to one where the others are busy (see auto_learn).
 *
 * BGR frames (a decoder's, handed over as OpenCV's BGR24 without a swap) are measured as their
 * RGB images with ``bgr``: each row is reversed as it enters the window (see Ring), so the
 * values are the RGB frame's to the last bit at no extra pass over memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#define HAVE_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#else
#define HAVE_THREADS 0
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_PATH 1
#include <immintrin.h>
#else
#define HAVE_AVX2_PATH 0
#endif

#define WIN 7
#define NW (WIN * WIN)
#define STRIP 512 /* outputs per strip: the column sums it reads stay in L1 (~6 KB) */
#define PAD 64    /* spare int32 after each column-sum array */

typedef struct {
    const uint8_t *a, *b;
    int H, W, C, WC, OW;
    double c1, c2;
    size_t N;
    uint16_t *blk; /* sum of |a - b| over each 8-value block [8k, 8k + 8) of the flat frame */
    int rev;       /* C == 3 given in BGR order: measured as its RGB image (see Ring) */
    void (*swap)(const uint8_t *s, uint8_t *d, size_t n); /* the ring's byte reversal */
} Frame;

typedef struct {
    double ssim;   /* sum of the band's SSIM values */
    long long sq;  /* sum of (a - b)^2 over the rows the band owns */
    long long ab;  /* sum of |a - b| over the blocks that start in those rows */
    int failed;
} BandOut;

/* ---------------------------------------------------------------------------------------- */
/* Shared scalar pieces (the tails of the vector loops use them too).                        */

/* Column sums of the 7 rows of the window, per value of a row (one array each):
 *   sp  = sum x + 65536 * sum y   (both sums < 2^11, window sums < 2^14: two exact 16-bit
 *                                  halves of one int32; x and y travel together)
 *   ss  = sum x^2 + y^2           (SSIM needs only vx + vy, never vx or vy alone)
 *   sxy = sum x * y
 * so a window needs 3 x 7 loads instead of 5 x 7. */
typedef struct {
    int32_t *sp, *ss, *sxy;
} Cols;

static inline double ratio_at(const Cols *c, int i, int C, double c1, double c2) {
    uint32_t P = 0;
    int32_t S = 0, XY = 0;
    for (int k = 0; k < WIN; k++) {
        int j = i + k * C;
        P += (uint32_t)c->sp[j]; S += c->ss[j]; XY += c->sxy[j];
    }
    int32_t X = (int32_t)(P & 0xFFFF), Y = (int32_t)(P >> 16);
    /* skimage's (2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2)), with ux = X/n
     * and v = (n S - X Y) / (n (n - 1)), scaled by n^2 and n(n-1): exact integers until here
     * (each factor < 2^29). */
    int32_t a1 = 2 * X * Y, b1 = X * X + Y * Y;
    int32_t a2 = 2 * NW * XY - a1, b2 = NW * S - b1;
    return (((double)a1 + c1) * ((double)a2 + c2)) / (((double)b1 + c1) * ((double)b2 + c2));
}

/* Block sums of |a - b| and the sum of (a - b)^2 for values [s, e) of the flat frame, where s
 * is a multiple of 8 (e may end mid-block only at the end of the frame); ra and rb hold the
 * values from flat index `base` on (row_of). */
static void diff_blocks_scalar(const Frame *f, const uint8_t *ra, const uint8_t *rb, size_t base,
                               size_t s, size_t e, long long *sq, long long *ab) {
    long long q = 0, t = 0;
    for (size_t k0 = s; k0 < e; k0 += 8) {
        size_t k1 = k0 + 8 < e ? k0 + 8 : e;
        int bs = 0;
        for (size_t i = k0; i < k1; i++) {
            int d = (int)ra[i - base] - (int)rb[i - base];
            bs += d < 0 ? -d : d;
            q += d * d;
        }
        f->blk[k0 >> 3] = (uint16_t)bs;
        t += bs;
    }
    *sq += q;
    *ab += t;
}

/* The blocks that start in row y: [ceil(y WC / 8), ceil((y + 1) WC / 8)) in block units. The
 * last one may reach into row y + 1 (whose owner does not count it). */
static inline void row_block_range(const Frame *f, int y, size_t *s, size_t *e) {
    size_t r0 = (size_t)y * f->WC, r1 = r0 + f->WC;
    *s = (r0 + 7) & ~(size_t)7;
    *e = (r1 + 7) & ~(size_t)7;
    if (*e > f->N) *e = f->N;
}

/* numpy's float32 pairwise sum of |a - b| over values [s, s + n), from the block sums. */
static float pairwise_blocks(const uint16_t *blk, size_t s, size_t n) {
    if (n <= 128) {
        int32_t t = 0;
        for (size_t k = s >> 3, e = (s + n + 7) >> 3; k < e; k++) t += blk[k];
        return (float)t;
    }
    size_t half = n / 2;
    half -= half % 8;
    float left = pairwise_blocks(blk, s, half);
    float right = pairwise_blocks(blk, s + half, n - half);
    return left + right;
}

#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

static void swap_rb_impl(const uint8_t *s, uint8_t *d, size_t n) {
    size_t i = 0;
#if defined(__SSSE3__)
    /* Each store also writes byte 15 (the next pixel's first byte, unswapped): the next
     * store, 15 bytes on, rewrites it, and the tail loop rewrites the last one. */
    const __m128i m = _mm_setr_epi8(2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9, 14, 13, 12, 15);
    for (; i + 16 <= n; i += 15)
        _mm_storeu_si128((__m128i *)(d + i), _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + i)), m));
#endif
    for (; i + 3 <= n; i += 3) {
        uint8_t b = s[i], g = s[i + 1], r = s[i + 2];
        d[i] = r; d[i + 1] = g; d[i + 2] = b;
    }
}

/* The rows a band walk reads. Normally the frame's own rows. For a BGR frame measured as RGB
 * (Frame.rev: a decoder's frames, handed over as OpenCV wrote them) each row is copied with its
 * pixels' bytes reversed into a ring of 8 row buffers as it enters the window, and read from
 * there: the walk then sees exactly the RGB frame's bytes, so every value (SSIM's rounding
 * included) is the RGB frame's to the last bit, while no separate pass swaps the whole frame
 * (which cost as much memory traffic as the conversion that produced it). A row leaves the
 * window 7 rows after it entered, so its buffer (slot y mod 8) is still intact. A row's buffer
 * also holds the next row's first 3 pixels, reversed: the row's last 8-value MAD block may
 * reach up to 7 bytes into it. */
typedef struct {
    uint8_t *buf;
    size_t stride;
} Ring;

static int ring_alloc(Ring *r, const Frame *f) {
    r->buf = NULL;
    r->stride = ((size_t)f->WC + 9 + 63) & ~(size_t)63;
    if (!f->rev) return 0;
    r->buf = malloc(2 * 8 * r->stride);
    return r->buf ? 0 : -1;
}

/* Row y of a (side 0) or b (side 1) as the walk reads it; it must have entered (ring_enter). */
static inline const uint8_t *row_of(const Frame *f, const Ring *r, int side, int y) {
    if (!f->rev) return (side ? f->b : f->a) + (size_t)y * f->WC;
    return r->buf + ((size_t)side * 8 + (size_t)(y & 7)) * r->stride;
}

static void ring_enter(const Frame *f, Ring *r, int y) {
    if (!f->rev) return;
    /* The row and, where there is one, the next row's first 3 pixels: contiguous in the frame. */
    const size_t n = (size_t)f->WC + (y + 1 < f->H ? 9 : 0);
    for (int side = 0; side < 2; side++) {
        const uint8_t *src = (side ? f->b : f->a) + (size_t)y * f->WC;
        f->swap(src, r->buf + ((size_t)side * 8 + (size_t)(y & 7)) * r->stride, n);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Portable band walk (any CPU; plain loops the compiler may vectorise for its target).      */

static int cols_alloc(Cols *c, int WC) {
    size_t n = (size_t)WC + PAD;
    int32_t *p = calloc(3 * n, sizeof(int32_t));
    if (!p) return -1;
    c->sp = p; c->ss = p + n; c->sxy = p + 2 * n;
    return 0;
}

/* Column sums [j0, j1): add row (na, nb), remove row (oa, ob). */
static void vupdate_portable(Cols *c, const uint8_t *na, const uint8_t *nb, const uint8_t *oa,
                             const uint8_t *ob, int j0, int j1) {
    int32_t *restrict sp = c->sp, *restrict ss = c->ss, *restrict sxy = c->sxy;
    for (int i = j0; i < j1; i++) {
        int32_t va = na[i], vb = nb[i], ua = oa[i], ub = ob[i];
        sp[i] += (va - ua) + (vb - ub) * 65536;
        ss[i] += va * va + vb * vb - ua * ua - ub * ub;
        sxy[i] += va * vb - ua * ub;
    }
}

/* SSIM values at outputs [s, e) (e - s <= STRIP) added into acc: window sums, then ratios,
 * then the sum, each a simple loop over the strip that the compiler vectorises (SSE/NEON). */
static inline __attribute__((always_inline)) void strip_portable(
    const Cols *c, int s, int e, int C, double c1, double c2, double acc[4]) {
    uint32_t P[STRIP];
    int32_t S[STRIP], Q[STRIP];
    double r[STRIP + 3];
    const int n = e - s;
    const uint32_t *sp = (const uint32_t *)c->sp + s;
    const int32_t *ss = c->ss + s, *sxy = c->sxy + s;
    for (int i = 0; i < n; i++)
        P[i] = sp[i] + sp[i + C] + sp[i + 2 * C] + sp[i + 3 * C] + sp[i + 4 * C] + sp[i + 5 * C] + sp[i + 6 * C];
    for (int i = 0; i < n; i++)
        S[i] = ss[i] + ss[i + C] + ss[i + 2 * C] + ss[i + 3 * C] + ss[i + 4 * C] + ss[i + 5 * C] + ss[i + 6 * C];
    for (int i = 0; i < n; i++)
        Q[i] = sxy[i] + sxy[i + C] + sxy[i + 2 * C] + sxy[i + 3 * C] + sxy[i + 4 * C] + sxy[i + 5 * C] +
               sxy[i + 6 * C];
    for (int i = 0; i < n; i++) { /* as in ratio_at */
        int32_t X = (int32_t)(P[i] & 0xFFFF), Y = (int32_t)(P[i] >> 16);
        int32_t a1 = 2 * X * Y, b1 = X * X + Y * Y;
        int32_t a2 = 2 * NW * Q[i] - a1, b2 = NW * S[i] - b1;
        r[i] = (((double)a1 + c1) * ((double)a2 + c2)) / (((double)b1 + c1) * ((double)b2 + c2));
    }
    r[n] = r[n + 1] = r[n + 2] = 0.0;
    for (int i = 0; i < n; i += 4) {
        acc[0] += r[i]; acc[1] += r[i + 1]; acc[2] += r[i + 2]; acc[3] += r[i + 3];
    }
}

/* The walk every path shares: a band's first 6 rows enter the column sums, then each output
 * row enters its new row, drops the one 7 rows above, and reads its windows strip by strip.
 * VUPDATE(cols, new a, new b, old a, old b, j0, j1) and DIFF(frame, a, b, base, s, e, &sq,
 * &ab) are the path's functions; the caller defines STRIP_FN(s, e, C), its strip (called with a
 * constant C of 3 for RGB, so the window loads take constant offsets). It expects f, r0, r1,
 * own1, zero, c, ring, sq and ab (BAND_START). */
#define BAND_WALK(VUPDATE, DIFF)                                                             \
    do {                                                                                     \
        const int WC_ = f->WC, OW_ = f->OW, C_ = f->C, lead_ = (WIN - 1) * C_;               \
        for (int ny = r0; ny < r0 + WIN - 1; ny++) {                                         \
            ring_enter(f, &ring, ny);                                                        \
            const uint8_t *na = row_of(f, &ring, 0, ny), *nb = row_of(f, &ring, 1, ny);      \
            if (ny < own1) {                                                                 \
                size_t s_, e_;                                                               \
                row_block_range(f, ny, &s_, &e_);                                            \
                DIFF(f, na, nb, (size_t)ny * WC_, s_, e_, &sq, &ab);                         \
            }                                                                                \
            VUPDATE(&c, na, nb, zero, zero, 0, WC_);                                         \
        }                                                                                    \
        for (int y = r0; y < r1; y++) {                                                      \
            const int ny = y + WIN - 1;                                                      \
            ring_enter(f, &ring, ny);                                                        \
            const uint8_t *na = row_of(f, &ring, 0, ny), *nb = row_of(f, &ring, 1, ny);      \
            const uint8_t *oa = y > r0 ? row_of(f, &ring, 0, y - 1) : zero;                  \
            const uint8_t *ob = y > r0 ? row_of(f, &ring, 1, y - 1) : zero;                  \
            if (ny < own1) {                                                                 \
                size_t s_, e_;                                                               \
                row_block_range(f, ny, &s_, &e_);                                            \
                DIFF(f, na, nb, (size_t)ny * WC_, s_, e_, &sq, &ab);                         \
            }                                                                                \
            VUPDATE(&c, na, nb, oa, ob, 0, lead_);                                           \
            for (int s = 0; s < OW_; s += STRIP) {                                           \
                int e = s + STRIP < OW_ ? s + STRIP : OW_;                                   \
                VUPDATE(&c, na, nb, oa, ob, s + lead_, e + lead_);                           \
                if (C_ == 3) STRIP_FN(s, e, 3);                                              \
                else STRIP_FN(s, e, C_);                                                     \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* The set-up every path shares; returns from the band function on no memory. */
#define BAND_START()                                                                         \
    Cols c;                                                                                  \
    Ring ring;                                                                               \
    long long sq = 0, ab = 0;                                                                \
    if (cols_alloc(&c, f->WC)) { out->failed = 1; return; }                                  \
    if (ring_alloc(&ring, f)) { free(c.sp); out->failed = 1; return; }

#define BAND_END()                                                                           \
    free(c.sp);                                                                              \
    free(ring.buf);                                                                          \
    out->sq = sq;                                                                            \
    out->ab = ab

static void band_portable(const Frame *f, int r0, int r1, int own1, const uint8_t *zero,
                          BandOut *out) {
    BAND_START();
    double acc[4] = {0, 0, 0, 0};
#define STRIP_FN(s, e, CC) strip_portable(&c, s, e, CC, f->c1, f->c2, acc)
    BAND_WALK(vupdate_portable, diff_blocks_scalar);
#undef STRIP_FN
    BAND_END();
    out->ssim = (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* ---------------------------------------------------------------------------------------- */
/* AVX2 band walk.                                                                           */

#if HAVE_AVX2_PATH
#define AVX2 __attribute__((target("avx2,fma")))

static AVX2 inline __m256i load8u(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

static AVX2 inline __m256i ld(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
static AVX2 inline void st(int32_t *p, __m256i v) { _mm256_storeu_si256((__m256i *)p, v); }

static AVX2 void vupdate_avx2(Cols *c, const uint8_t *na, const uint8_t *nb, const uint8_t *oa,
                              const uint8_t *ob, int j0, int j1) {
    int i = j0;
    for (; i + 8 <= j1; i += 8) {
        __m256i va = load8u(na + i), vb = load8u(nb + i), ua = load8u(oa + i), ub = load8u(ob + i);
        /* As int16 pairs: p = (x, y) new, q = (x, y) old, so p - q updates sp, madd(p, p) -
         * madd(q, q) updates ss; (x_new, x_old) against (y_new, -y_old) updates sxy. */
        __m256i p = _mm256_or_si256(va, _mm256_slli_epi32(vb, 16));
        __m256i q = _mm256_or_si256(ua, _mm256_slli_epi32(ub, 16));
        __m256i xa = _mm256_or_si256(va, _mm256_slli_epi32(ua, 16));
        __m256i yb = _mm256_or_si256(vb, _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), ub), 16));
        st(c->sp + i, _mm256_add_epi32(ld(c->sp + i), _mm256_sub_epi32(p, q)));
        st(c->ss + i, _mm256_add_epi32(ld(c->ss + i),
                                       _mm256_sub_epi32(_mm256_madd_epi16(p, p), _mm256_madd_epi16(q, q))));
        st(c->sxy + i, _mm256_add_epi32(ld(c->sxy + i), _mm256_madd_epi16(xa, yb)));
    }
    if (i < j1) vupdate_portable(c, na, nb, oa, ob, i, j1);
}

/* The four int32 factors of the SSIM ratio of 8 windows, outputs [i, i + 8): the window sums
 * (7 column sums each) and from them, exactly, a1 = 2 X Y, b1 = X^2 + Y^2, a2 = 2 n XY - a1,
 * b2 = n S - b1 (as in ratio_at). */
typedef struct {
    __m256i a1, a2, b1, b2;
} Factors8;

static AVX2 inline __attribute__((always_inline)) Factors8 factors8(const Cols *c, int i, int C) {
    __m256i P = ld(c->sp + i), S = ld(c->ss + i), XY = ld(c->sxy + i);
    for (int k = 1; k < WIN; k++) {
        int j = i + k * C;
        P = _mm256_add_epi32(P, ld(c->sp + j));
        S = _mm256_add_epi32(S, ld(c->ss + j));
        XY = _mm256_add_epi32(XY, ld(c->sxy + j));
    }
    /* P holds (X, Y) as int16 pairs (each < 2^14): madd(P, P) = X^2 + Y^2 and madd(P, P
     * with its halves swapped) = 2 X Y, exactly. */
    const __m256i swap = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                          2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    Factors8 f;
    f.a1 = _mm256_madd_epi16(P, _mm256_shuffle_epi8(P, swap));
    f.b1 = _mm256_madd_epi16(P, P);
    f.a2 = _mm256_sub_epi32(_mm256_mullo_epi32(XY, _mm256_set1_epi32(2 * NW)), f.a1);
    f.b2 = _mm256_sub_epi32(_mm256_mullo_epi32(S, _mm256_set1_epi32(NW)), f.b1);
    return f;
}

/* Numerator (a1 + c1)(a2 + c2) and denominator (b1 + c1)(b2 + c2) of 4 windows' ratios: the
 * low (h = 0) or high (h = 1) half of a Factors8. */
#define HALF4(v, h) _mm256_cvtepi32_pd(h ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v))
#define ND4(F, h, c1, c2, n, d)                                                                   \
    do {                                                                                         \
        n = _mm256_mul_pd(_mm256_add_pd(HALF4((F).a1, h), c1), _mm256_add_pd(HALF4((F).a2, h), c2)); \
        d = _mm256_mul_pd(_mm256_add_pd(HALF4((F).b1, h), c1), _mm256_add_pd(HALF4((F).b2, h), c2)); \
    } while (0)

/* n0/d0 + n1/d1 as (n0 d1 + n1 d0) / (d0 d1): one division for two windows. Why: a division
 * occupies Intel's divider for 8-16 cycles (vdivpd), the longest step of a window's chain;
 * halving them made the AVX-512 walk 2-5% faster on the 2-core Xeon (medians of alternating
 * rounds; removing every division, with wrong values, would have given ~7%). Exactness: every
 * d > 0 (c1, c2 > 0 and b2 >= 0), products stay < 2^120, and the pair's value is off by a few
 * ulps of |n0/d0| + |n1/d1| <= 2, so the mean of the windows is still ~1e-15 from
 * scikit-image's. The FMA is explicit so that every path that pairs windows (AVX2, AVX-512)
 * rounds identically. */
static AVX2 inline __m256d pair4(__m256d n0, __m256d d0, __m256d n1, __m256d d1) {
    return _mm256_div_pd(_mm256_fmadd_pd(n0, d1, _mm256_mul_pd(n1, d0)), _mm256_mul_pd(d0, d1));
}

/* SSIM values at outputs [i, i + 16): windows i + l and i + 8 + l paired into acc0, i + 4 + l
 * and i + 12 + l into acc1 (l < 4), the pairing ratio16 has in its 8 lanes. */
static AVX2 inline __attribute__((always_inline)) void ratio16_avx2(const Cols *c, int i, int C, __m256d c1,
                                                                   __m256d c2, __m256d *acc0, __m256d *acc1) {
    Factors8 f0 = factors8(c, i, C), f1 = factors8(c, i + 8, C);
    __m256d n0, d0, n1, d1, n2, d2, n3, d3;
    ND4(f0, 0, c1, c2, n0, d0);
    ND4(f0, 1, c1, c2, n1, d1);
    ND4(f1, 0, c1, c2, n2, d2);
    ND4(f1, 1, c1, c2, n3, d3);
    *acc0 = _mm256_add_pd(*acc0, pair4(n0, d0, n2, d2));
    *acc1 = _mm256_add_pd(*acc1, pair4(n1, d1, n3, d3));
}

/* SSIM values at outputs [i, i + 8) (a strip's last 8 to 15): windows i + l and i + 4 + l
 * paired into acc0. */
static AVX2 inline __attribute__((always_inline)) void ratio8(const Cols *c, int i, int C, __m256d c1, __m256d c2,
                                                              __m256d *acc0) {
    Factors8 f = factors8(c, i, C);
    __m256d n0, d0, n1, d1;
    ND4(f, 0, c1, c2, n0, d0);
    ND4(f, 1, c1, c2, n1, d1);
    *acc0 = _mm256_add_pd(*acc0, pair4(n0, d0, n1, d1));
}

/* Block sums of |a - b| and the sum of (a - b)^2 for values [s, e), s a multiple of 8. */
static AVX2 void diff_blocks_avx2(const Frame *f, const uint8_t *ra, const uint8_t *rb, size_t base,
                                  size_t s, size_t e, long long *sq, long long *ab) {
    const __m256i zero = _mm256_setzero_si256();
    /* The low 16 bits of each 64-bit SAD lane to the first 4 bytes of its 128-bit half. */
    const __m256i pick = _mm256_setr_epi8(0, 1, 8, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 1, 8, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    __m256i q = zero, t = zero;
    long long sqs = 0;
    size_t i = s;
    int steps = 0;
    for (; i + 32 <= e; i += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(ra + (i - base)));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(rb + (i - base)));
        __m256i sad = _mm256_sad_epu8(va, vb);  /* 4 blocks' sums in 64-bit lanes */
        t = _mm256_add_epi64(t, sad);
        __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(sad, pick), gather);
        _mm_storel_epi64((__m128i *)(f->blk + (i >> 3)), _mm256_castsi256_si128(packed));
        __m256i d = _mm256_or_si256(_mm256_subs_epu8(va, vb), _mm256_subs_epu8(vb, va));
        __m256i lo = _mm256_unpacklo_epi8(d, zero), hi = _mm256_unpackhi_epi8(d, zero);
        q = _mm256_add_epi32(q, _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi)));
        if (++steps == 2048) { /* each int32 lane grows by < 2^18 a step: flush long before 2^31 */
            int32_t tmp[8];
            _mm256_storeu_si256((__m256i *)tmp, q);
            for (int l = 0; l < 8; l++) sqs += tmp[l];
            q = zero;
            steps = 0;
        }
    }
    int32_t tq[8];
    long long tt[4];
    _mm256_storeu_si256((__m256i *)tq, q);
    _mm256_storeu_si256((__m256i *)tt, t);
    for (int l = 0; l < 8; l++) sqs += tq[l];
    *sq += sqs;
    *ab += tt[0] + tt[1] + tt[2] + tt[3];
    if (i < e) diff_blocks_scalar(f, ra, rb, base, i, e, sq, ab);
}

/* SSIM values at outputs [s, e) of a row. Inlined with a constant C (3, RGB) its 21 window loads
 * take constant offsets; any other C goes through the same code with a variable one. */
static AVX2 inline __attribute__((always_inline)) void strip_avx2(
    const Cols *c, int s, int e, int C, __m256d c1, __m256d c2, __m256d *acc0, __m256d *acc1,
    double *tail, double c1s, double c2s) {
    int i = s;
    for (; i + 16 <= e; i += 16) ratio16_avx2(c, i, C, c1, c2, acc0, acc1);
    if (i + 8 <= e) { ratio8(c, i, C, c1, c2, acc0); i += 8; }
    for (; i < e; i++) *tail += ratio_at(c, i, C, c1s, c2s);
}

static AVX2 void band_avx2(const Frame *f, int r0, int r1, int own1, const uint8_t *zero,
                           BandOut *out) {
    BAND_START();
    const __m256d c1 = _mm256_set1_pd(f->c1), c2 = _mm256_set1_pd(f->c2);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    double tail = 0;
#define STRIP_FN(s, e, CC) strip_avx2(&c, s, e, CC, c1, c2, &acc0, &acc1, &tail, f->c1, f->c2)
    BAND_WALK(vupdate_avx2, diff_blocks_avx2);
#undef STRIP_FN
    BAND_END();
    double l[4];
    _mm256_storeu_pd(l, _mm256_add_pd(acc0, acc1));
    out->ssim = ((l[0] + l[1]) + (l[2] + l[3])) + tail;
}

/* ---------------------------------------------------------------------------------------- */
/* AVX-512 band walk: the AVX2 walk at twice the width (16 windows, 64 bytes a step). Why it
 * is worth a third path: per window the AVX2 loop spends most of its time in instructions
 * whose count halves here (the 21 window loads and adds, the int32 -> double conversions, the
 * double arithmetic). On a 2-core Xeon (Emerald Rapids) a 1536x1024 BGR pair on one thread
 * took 10.4-11 ms with AVX2 and 7.4-7.7 ms here (with the VBMI reversal; medians of
 * alternating rounds). The values are the AVX2 path's bit for bit: each pair of windows is
 * computed by the same operations, and lane l of the 8-lane accumulator adds the same pairs in
 * the same order as lane l of AVX2's acc0 (l < 4) or acc1 (l >= 4). */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

static AVX512 inline __m512i load16u(const uint8_t *p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

static AVX512 inline __m512i ld16(const int32_t *p) { return _mm512_loadu_si512((const void *)p); }
static AVX512 inline void st16(int32_t *p, __m512i v) { _mm512_storeu_si512((void *)p, v); }

static AVX512 void vupdate_avx512(Cols *c, const uint8_t *na, const uint8_t *nb, const uint8_t *oa,
                                  const uint8_t *ob, int j0, int j1) {
    int i = j0;
    for (; i + 16 <= j1; i += 16) { /* as vupdate_avx2 */
        __m512i va = load16u(na + i), vb = load16u(nb + i), ua = load16u(oa + i), ub = load16u(ob + i);
        __m512i p = _mm512_or_si512(va, _mm512_slli_epi32(vb, 16));
        __m512i q = _mm512_or_si512(ua, _mm512_slli_epi32(ub, 16));
        __m512i xa = _mm512_or_si512(va, _mm512_slli_epi32(ua, 16));
        __m512i yb = _mm512_or_si512(vb, _mm512_slli_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), ub), 16));
        st16(c->sp + i, _mm512_add_epi32(ld16(c->sp + i), _mm512_sub_epi32(p, q)));
        st16(c->ss + i, _mm512_add_epi32(ld16(c->ss + i),
                                         _mm512_sub_epi32(_mm512_madd_epi16(p, p), _mm512_madd_epi16(q, q))));
        st16(c->sxy + i, _mm512_add_epi32(ld16(c->sxy + i), _mm512_madd_epi16(xa, yb)));
    }
    if (i < j1) vupdate_avx2(c, na, nb, oa, ob, i, j1);
}

/* Numerator and denominator of 8 windows' ratios (ND4's arithmetic, 8 lanes at once). */
static AVX512 inline void nd8(__m256i a1, __m256i a2, __m256i b1, __m256i b2, __m512d c1, __m512d c2,
                              __m512d *n, __m512d *d) {
    *n = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(a1), c1), _mm512_add_pd(_mm512_cvtepi32_pd(a2), c2));
    *d = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(b1), c1), _mm512_add_pd(_mm512_cvtepi32_pd(b2), c2));
}

/* SSIM values at outputs [i, i + 16) added into acc: windows i + l and i + 8 + l paired in
 * lane l (pair4's arithmetic), so that lanes 0-3 and 4-7 are AVX2's acc0 and acc1. */
static AVX512 inline __attribute__((always_inline)) void ratio16(const Cols *c, int i, int C, __m512d c1,
                                                                 __m512d c2, __m512d *acc) {
    __m512i P = ld16(c->sp + i), S = ld16(c->ss + i), XY = ld16(c->sxy + i);
    for (int k = 1; k < WIN; k++) {
        int j = i + k * C;
        P = _mm512_add_epi32(P, ld16(c->sp + j));
        S = _mm512_add_epi32(S, ld16(c->ss + j));
        XY = _mm512_add_epi32(XY, ld16(c->sxy + j));
    }
    /* As in factors8: X^2 + Y^2 and 2 X Y from the int16 pair (X, Y), exactly. */
    __m512i a1 = _mm512_madd_epi16(P, _mm512_rol_epi32(P, 16));
    __m512i b1 = _mm512_madd_epi16(P, P);
    __m512i a2 = _mm512_sub_epi32(_mm512_mullo_epi32(XY, _mm512_set1_epi32(2 * NW)), a1);
    __m512i b2 = _mm512_sub_epi32(_mm512_mullo_epi32(S, _mm512_set1_epi32(NW)), b1);
#define LO(v) _mm512_castsi512_si256(v)
#define HI(v) _mm512_extracti64x4_epi64(v, 1)
    __m512d n0, d0, n1, d1;
    nd8(LO(a1), LO(a2), LO(b1), LO(b2), c1, c2, &n0, &d0);
    nd8(HI(a1), HI(a2), HI(b1), HI(b2), c1, c2, &n1, &d1);
#undef LO
#undef HI
    *acc = _mm512_add_pd(*acc, _mm512_div_pd(_mm512_fmadd_pd(n0, d1, _mm512_mul_pd(n1, d0)), _mm512_mul_pd(d0, d1)));
}

/* SSIM values at outputs [i, i + 8) (a strip's last 8 to 15) added into lanes 0-3 of acc:
 * AVX2's ratio8 exactly (its acc0). */
static AVX512 inline __attribute__((always_inline)) void ratio8_512(const Cols *c, int i, int C, __m512d c1,
                                                                    __m512d c2, __m512d *acc) {
    Factors8 f = factors8(c, i, C);
    const __m256d c1h = _mm512_castpd512_pd256(c1), c2h = _mm512_castpd512_pd256(c2);
    __m256d n0, d0, n1, d1;
    ND4(f, 0, c1h, c2h, n0, d0);
    ND4(f, 1, c1h, c2h, n1, d1);
    *acc = _mm512_mask_add_pd(*acc, 0x0F, *acc, _mm512_zextpd256_pd512(pair4(n0, d0, n1, d1)));
}

/* The sum of 16 int32 lanes, in int64. */
static AVX512 inline long long sum_epi32_512(__m512i v) {
    return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1))));
}

/* Block sums of |a - b| and the sum of (a - b)^2 for values [s, e), s a multiple of 8: as
 * diff_blocks_avx2, 64 values (8 blocks) a step. */
static AVX512 void diff_blocks_avx512(const Frame *f, const uint8_t *ra, const uint8_t *rb, size_t base,
                                      size_t s, size_t e, long long *sq, long long *ab) {
    const __m512i zero = _mm512_setzero_si512();
    __m512i q = zero, t = zero;
    long long sqs = 0;
    size_t i = s;
    int steps = 0;
    for (; i + 64 <= e; i += 64) {
        __m512i va = _mm512_loadu_si512((const void *)(ra + (i - base)));
        __m512i vb = _mm512_loadu_si512((const void *)(rb + (i - base)));
        __m512i sad = _mm512_sad_epu8(va, vb); /* 8 blocks' sums (< 2^11) in 64-bit lanes */
        t = _mm512_add_epi64(t, sad);
        _mm_storeu_si128((__m128i *)(f->blk + (i >> 3)), _mm512_cvtepi64_epi16(sad));
        __m512i d = _mm512_or_si512(_mm512_subs_epu8(va, vb), _mm512_subs_epu8(vb, va));
        __m512i lo = _mm512_unpacklo_epi8(d, zero), hi = _mm512_unpackhi_epi8(d, zero);
        q = _mm512_add_epi32(q, _mm512_add_epi32(_mm512_madd_epi16(lo, lo), _mm512_madd_epi16(hi, hi)));
        if (++steps == 2048) { /* each int32 lane grows by < 2^18 a step */
            sqs += sum_epi32_512(q);
            q = zero;
            steps = 0;
        }
    }
    sqs += sum_epi32_512(q);
    *sq += sqs;
    *ab += _mm512_reduce_add_epi64(t);
    if (i < e) diff_blocks_avx2(f, ra, rb, base, i, e, sq, ab);
}

/* SSIM values at outputs [s, e) of a row (strip_avx2 at 16 windows a step). */
static AVX512 inline __attribute__((always_inline)) void strip_avx512(
    const Cols *c, int s, int e, int C, __m512d c1, __m512d c2, __m512d *acc, double *tail, double c1s,
    double c2s) {
    int i = s;
    for (; i + 16 <= e; i += 16) ratio16(c, i, C, c1, c2, acc);
    if (i + 8 <= e) { ratio8_512(c, i, C, c1, c2, acc); i += 8; }
    for (; i < e; i++) *tail += ratio_at(c, i, C, c1s, c2s);
}

static AVX512 void band_avx512(const Frame *f, int r0, int r1, int own1, const uint8_t *zero,
                               BandOut *out) {
    BAND_START();
    const __m512d c1 = _mm512_set1_pd(f->c1), c2 = _mm512_set1_pd(f->c2);
    __m512d acc = _mm512_setzero_pd();
    double tail = 0;
#define STRIP_FN(s, e, CC) strip_avx512(&c, s, e, CC, c1, c2, &acc, &tail, f->c1, f->c2)
    BAND_WALK(vupdate_avx512, diff_blocks_avx512);
#undef STRIP_FN
    BAND_END();
    double l[4]; /* AVX2's acc0 + acc1, then its order */
    _mm256_storeu_pd(l, _mm256_add_pd(_mm512_castpd512_pd256(acc), _mm512_extractf64x4_pd(acc, 1)));
    out->ssim = ((l[0] + l[1]) + (l[2] + l[3])) + tail;
}

/* swap_rb_impl with AVX-512 VBMI: one byte permutation reverses 21 pixels (63 bytes) where
 * SSSE3 reverses 5; the masked tail neither reads nor writes past n. Why: with BGR frames the
 * ring's reversal is where each row is first read from memory, and at 16 bytes a step it was
 * ~13% of the AVX-512 walk. Each full store also writes byte 63 (the next pixel's first byte,
 * unswapped), which the next store rewrites. */
#define AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

static AVX512VBMI void swap_rb_vbmi(const uint8_t *s, uint8_t *d, size_t n) {
    uint8_t order[64];
    for (int j = 0; j < 63; j++) order[j] = (uint8_t)(3 * (j / 3) + 2 - j % 3);
    order[63] = 63;
    const __m512i idx = _mm512_loadu_si512((const void *)order);
    size_t i = 0;
    for (; i + 64 <= n; i += 63)
        _mm512_storeu_si512((void *)(d + i), _mm512_permutexvar_epi8(idx, _mm512_loadu_si512((const void *)(s + i))));
    if (i < n) { /* fewer than 64 bytes left, a whole number of pixels */
        const __mmask64 m = ((__mmask64)1 << (n - i)) - 1;
        _mm512_mask_storeu_epi8(d + i, m, _mm512_permutexvar_epi8(idx, _mm512_maskz_loadu_epi8(m, s + i)));
    }
}

static int cpu_has_vbmi(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
}

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int cpu_has_avx2(void) { return 0; }
static int cpu_has_avx512(void) { return 0; }
static int cpu_has_vbmi(void) { return 0; }
#endif

/* ---------------------------------------------------------------------------------------- */

enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

static const char *const ISA_NAMES[] = {"portable", "avx2", "avx512"};

/* The widest path this CPU (and build) runs. */
static int best_isa(void) {
    return cpu_has_avx512() ? ISA_AVX512 : cpu_has_avx2() ? ISA_AVX2 : ISA_PORTABLE;
}

/* The path "auto" takes: the widest the CPU has, capped by GT_GEN_FASTSSIM_ISA (portable or
 * avx2; any other value caps nothing). All give the same PSNR and MAD; avx512 gives avx2's
 * SSIM bit for bit, portable one within ~1e-15 of it. */
static int auto_isa(void) {
    const char *env = getenv("GT_GEN_FASTSSIM_ISA");
    int isa = best_isa();
    if (env && strcmp(env, "portable") == 0) return ISA_PORTABLE;
    if (env && strcmp(env, "avx2") == 0 && isa > ISA_AVX2) return ISA_AVX2;
    return isa;
}

static int parse_isa(const char *name, int *isa) {
    if (!name || strcmp(name, "auto") == 0) { *isa = auto_isa(); return 0; }
    for (int k = 0; k < 3; k++) {
        if (strcmp(name, ISA_NAMES[k]) != 0) continue;
        if (k > best_isa()) {
            PyErr_Format(PyExc_ValueError, "this CPU (or build) has no %s path",
                         k == ISA_AVX2 ? "AVX2/FMA" : "AVX-512 (F, BW, DQ, VL)");
            return -1;
        }
        *isa = k;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "unknown isa '%s': use 'auto', 'portable', 'avx2' or 'avx512'", name);
    return -1;
}

/* Threads share a frame's bands through a counter: each claims the next band until none is
 * left, and the caller waits only for bands that were claimed, never for a thread that has not
 * started. (An OpenMP team waits at its closing barrier for every member: on a busy machine a
 * member the scheduler leaves out for 20 ms turned a 3 ms frame into a 40 ms one.) Helpers are
 * started per frame (tens of microseconds against milliseconds of work) and detached; one that
 * starts after the work is gone touches only the job's counters, which it co-owns. */
typedef struct {
    Frame f;
    int bands, OH, isa;
    const uint8_t *zero;
    BandOut *outs;
#if HAVE_THREADS
    atomic_int next, done, refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
} Job;

static void do_band(Job *j, int t) {
    int r0 = (int)((long long)j->OH * t / j->bands), r1 = (int)((long long)j->OH * (t + 1) / j->bands);
    int own1 = t == j->bands - 1 ? j->f.H : r1; /* the last band also owns the bottom 6 rows */
#if HAVE_AVX2_PATH
    if (j->isa == ISA_AVX512) band_avx512(&j->f, r0, r1, own1, j->zero, j->outs + t);
    else if (j->isa == ISA_AVX2) band_avx2(&j->f, r0, r1, own1, j->zero, j->outs + t);
    else
#endif
        band_portable(&j->f, r0, r1, own1, j->zero, j->outs + t);
}

#if HAVE_THREADS
static void run_bands(Job *j) {
    for (;;) {
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->bands) return;
        do_band(j, t);
        if (atomic_fetch_add(&j->done, 1) + 1 == j->bands) {
            pthread_mutex_lock(&j->mu);
            pthread_cond_signal(&j->cv);
            pthread_mutex_unlock(&j->mu);
        }
    }
}

static void job_release(Job *j) {
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

static void *helper(void *arg) {
    run_bands((Job *)arg);
    job_release((Job *)arg);
    return NULL;
}

/* CPUs this process may run on. */
static int cpus_available(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
#endif

/* Threads for one frame: the argument, else GT_GEN_FASTSSIM_THREADS, else OMP_NUM_THREADS (the
 * usual way to cap a CI job's threads), else every CPU this process may use (0: "auto"). */
static int team_size(int threads, int *automatic) {
    const char *names[] = {"GT_GEN_FASTSSIM_THREADS", "OMP_NUM_THREADS"};
    for (int i = 0; i < 2 && threads <= 0; i++) {
        const char *env = getenv(names[i]);
        if (env) threads = atoi(env);
    }
    *automatic = threads <= 0;
#if HAVE_THREADS
    if (threads <= 0) threads = cpus_available();
#endif
    if (threads > 64) threads = 64;
    return threads > 0 ? threads : 1;
}

#if HAVE_THREADS
/* "auto" backs off where helpers do not pay: when the caller, done with its share, waited for a
 * helper longer than a quarter of its own work (the other cores are busy: a helper that the
 * scheduler put aside mid-band holds the frame up), the next 4, 8, ... 256 frames run on the
 * caller's thread alone, then helpers are tried again. On an idle machine the wait is a
 * fraction of a band and helpers stay on. */
static atomic_int alone_left, alone_len;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int auto_team(int team) {
    if (team > 1 && atomic_load(&alone_left) > 0) {
        atomic_fetch_sub(&alone_left, 1);
        return 1;
    }
    return team;
}

static void auto_learn(int64_t busy, int64_t waited) {
    if (waited * 4 > busy) {
        int len = atomic_load(&alone_len);
        len = len < 4 ? 4 : (len >= 128 ? 256 : 2 * len);
        atomic_store(&alone_len, len);
        atomic_store(&alone_left, len);
    } else {
        atomic_store(&alone_len, 0);
    }
}
#endif

/* Runs every band of the job, on up to `team` threads (the caller's included). Returns the job
 * for the caller to read and release (it may be shared with late helpers). */
static Job *run_job(Job *j, int team, int learn) {
#if HAVE_THREADS
    atomic_init(&j->next, 0);
    atomic_init(&j->done, 0);
    atomic_init(&j->refs, 1);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (team > j->bands) team = j->bands;
    pthread_attr_t attr;
    int attr_ok = pthread_attr_init(&attr) == 0;
    if (attr_ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1 << 20);
    }
    for (int i = 1; i < team; i++) {
        pthread_t th;
        atomic_fetch_add(&j->refs, 1);
        if (!attr_ok || pthread_create(&th, &attr, helper, j) != 0) {
            atomic_fetch_sub(&j->refs, 1); /* no thread: the caller does the work */
            break;
        }
    }
    if (attr_ok) pthread_attr_destroy(&attr);
    int64_t t0 = learn ? now_ns() : 0;
    run_bands(j);
    int64_t t1 = learn ? now_ns() : 0;
    pthread_mutex_lock(&j->mu);
    while (atomic_load(&j->done) < j->bands) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (learn) auto_learn(t1 - t0, now_ns() - t1);
#else
    (void)team; (void)learn;
    for (int t = 0; t < j->bands; t++) do_band(j, t);
#endif
    return j;
}

static void job_done(Job *j) {
#if HAVE_THREADS
    job_release(j);
#else
    free(j);
#endif
}

/* metrics(a, b, h, w, c, data_range[, isa[, band_rows[, threads[, bgr]]]])
 *   -> (ssim, sum_sq_diff, sum_abs_diff, numpy_f32_mad)
 * band_rows: output rows per band (0: the default); tests use 1 to put band edges everywhere.
 * threads: the team size (0: GT_GEN_FASTSSIM_THREADS or all cores); never changes the result.
 * bgr: both frames are 3-channel BGR; the values are their RGB images', bit for bit (Ring). */
static PyObject *metrics(PyObject *self, PyObject *args) {
    Py_buffer ba, bb;
    int H, W, C;
    double R;
    const char *isa_name = NULL;
    int isa, band_rows = 0, threads = 0, bgr = 0;
    if (!PyArg_ParseTuple(args, "y*y*iiid|ziip", &ba, &bb, &H, &W, &C, &R, &isa_name, &band_rows,
                          &threads, &bgr))
        return NULL;
    if (parse_isa(isa_name, &isa)) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        return NULL;
    }
    if (ba.len != bb.len || H < WIN || W < WIN || C < 1 || C > 8 ||
        ba.len != (Py_ssize_t)H * W * C || !(R > 0) || band_rows < 0 || (bgr && C != 3)) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        PyErr_SetString(PyExc_ValueError,
                        "frames must be two uint8 HxWxC buffers with H, W >= 7, C <= 8, data_range > 0 "
                        "(bgr: C == 3)");
        return NULL;
    }
    Job *j = calloc(1, sizeof(Job));
    if (!j) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        return PyErr_NoMemory();
    }
    Frame *f = &j->f;
    f->a = ba.buf; f->b = bb.buf; f->H = H; f->W = W; f->C = C; f->WC = W * C; f->OW = (W - WIN + 1) * C;
    f->N = (size_t)H * W * C;
    f->rev = bgr;
    f->swap = swap_rb_impl;
#if HAVE_AVX2_PATH
    if (isa == ISA_AVX512 && cpu_has_vbmi()) f->swap = swap_rb_vbmi; /* same bytes, fewer steps */
#endif
    f->c1 = (0.01 * R) * (0.01 * R) * NW * NW;
    f->c2 = (0.03 * R) * (0.03 * R) * NW * (NW - 1);
    const int OH = H - WIN + 1;
    /* Bands of about 48 output rows: enough to balance threads, few enough that re-reading the
     * 6 rows above each band costs little. Independent of the thread count (determinism). */
    int bands = OH / (band_rows ? band_rows : 48);
    if (bands < 1) bands = 1;
    if (bands > (band_rows ? OH : 256)) bands = band_rows ? OH : 256;
    j->bands = bands; j->OH = OH; j->isa = isa;
    uint16_t *blk = f->blk = malloc(sizeof(uint16_t) * (f->N / 8 + 1));
    BandOut *outs = j->outs = calloc((size_t)bands, sizeof(BandOut));
    uint8_t *zero = calloc((size_t)f->WC + 32, 1);
    j->zero = zero;
    if (!blk || !outs || !zero) {
        free(blk); free(outs); free(zero); free(j);
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        return PyErr_NoMemory();
    }
    /* Threads only pay off on large frames: starting them costs more than a small frame. */
    int automatic = 0;
    int team = f->N >= ((size_t)1 << 18) ? team_size(threads, &automatic) : 1;
#if HAVE_THREADS
    if (automatic) team = auto_team(team);
#endif
    const size_t N = f->N;
    int failed = 0;
    double ssim = 0;
    long long sq = 0, ab = 0;
    float mad;
    Py_BEGIN_ALLOW_THREADS
    run_job(j, team, automatic && team > 1);
    for (int t = 0; t < bands; t++) { /* in band order: deterministic */
        ssim += outs[t].ssim; sq += outs[t].sq; ab += outs[t].ab; failed |= outs[t].failed;
    }
    mad = failed ? 0.0f : pairwise_blocks(blk, 0, N) / (float)N;
    job_done(j); /* j is not used after this: a late helper may still hold it */
    Py_END_ALLOW_THREADS
    free(blk); free(outs); free(zero);
    PyBuffer_Release(&ba); PyBuffer_Release(&bb);
    if (failed) return PyErr_NoMemory();
    double mean = ssim / ((double)OH * ((W - WIN + 1) * C)); /* every channel: the same count */
    return Py_BuildValue("dLLd", mean, sq, ab, (double)mad);
}

/* ---------------------------------------------------------------------------------------- */
/* BGR <-> RGB: the decoder's channel swap (here because this is the project's one C
 * extension). Why not OpenCV's cvtColor: it hands the swap to OpenCV's thread pool, whose
 * workers spin while they wait; two decoder threads swapping at once kept 16 cores busy for
 * a memory-bound copy (on a 16-core H200 host: 4.2 CPU-s instead of 2.9 for one case's two
 * 121-frame 1536x1024 decodes, and 0.38 s of wall instead of 0.35). One thread, one pass,
 * 5 pixels per 16-byte shuffle where SSSE3 is there (every x86-64-v2 CPU), a plain loop
 * elsewhere; the result is the byte reversal of every pixel, nothing else. */
static PyObject *swap_rb(PyObject *self, PyObject *args) {
    Py_buffer bs, bd;
    if (!PyArg_ParseTuple(args, "y*w*", &bs, &bd)) return NULL;
    if (bs.len != bd.len || bs.len % 3) {
        PyBuffer_Release(&bs); PyBuffer_Release(&bd);
        PyErr_SetString(PyExc_ValueError, "swap_rb needs two contiguous buffers of one size, a multiple of 3");
        return NULL;
    }
    const uint8_t *s = bs.buf;
    uint8_t *d = bd.buf;
    if (s < d + bd.len && d < s + bs.len && s != d) { /* partial overlap: the shuffle would read its own output */
        PyBuffer_Release(&bs); PyBuffer_Release(&bd);
        PyErr_SetString(PyExc_ValueError, "swap_rb: source and destination overlap");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    swap_rb_impl(s, d, (size_t)bs.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&bs); PyBuffer_Release(&bd);
    Py_RETURN_NONE;
}

static PyObject *isa(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(ISA_NAMES[auto_isa()]);
}

static PyObject *has_avx2(PyObject *self, PyObject *args) { return PyBool_FromLong(cpu_has_avx2()); }

static PyObject *has_avx512(PyObject *self, PyObject *args) { return PyBool_FromLong(cpu_has_avx512()); }

static PyMethodDef Methods[] = {
    {"metrics", metrics, METH_VARARGS,
     "metrics(a, b, h, w, c, data_range, isa=None, band_rows=0, threads=0, bgr=False) -> (ssim, "
     "sum of squared diffs, sum of abs diffs, numpy's float32 MAD); isa: None/'auto', 'portable', "
     "'avx2' or 'avx512'; bgr: 3-channel BGR frames, measured as their RGB images (the same values)."},
    {"isa", isa, METH_NOARGS, "The path 'auto' takes now: 'avx512', 'avx2' or 'portable'."},
    {"has_avx2", has_avx2, METH_NOARGS, "Whether the AVX2/FMA path is built and this CPU runs it."},
    {"has_avx512", has_avx512, METH_NOARGS,
     "Whether the AVX-512 (F, BW, DQ, VL) path is built and this CPU runs it."},
    {"swap_rb", swap_rb, METH_VARARGS,
     "swap_rb(src, dst): dst = src with the first and third byte of every 3 exchanged (BGR <-> RGB); "
     "both C-contiguous, one size; dst may be src."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef Module = {PyModuleDef_HEAD_INIT, "_fastssim", NULL, -1, Methods};

PyMODINIT_FUNC PyInit__fastssim(void) { return PyModule_Create(&Module); }
