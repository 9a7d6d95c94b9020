/* Exact SSIM (scikit-image's defaults), PSNR and MAD of uint8 HxWxC frames, in one pass.
 *
 * Why C: scikit-image runs five separate float64 uniform filters over the full frame; here
 * every 7x7 window sum of x, y, x^2, y^2 and xy is an exact int32 (vertical running column
 * sums, then a 7-tap horizontal sum that the compiler vectorises), and only the final SSIM
 * ratio is computed in double. Only windows lying wholly inside the frame are averaged,
 * which is exactly what scikit-image's 3-pixel crop keeps, so no padding mode is involved.
 * Row bands run in parallel with OpenMP and their sums are added in band order, so the result
 * does not depend on which thread finished first; the GIL is released meanwhile.
 *
 * The mean absolute difference is sglang's number: numpy's float32 ``.mean()`` of |a - b|,
 * i.e. numpy's pairwise summation in float32 (runs of <= 128 values are leaves; longer runs
 * split at n/2 rounded down to a multiple of 8) divided by float32(n). Leaf sums of integers
 * 0..255 are exact, so only the float32 adds above the leaves round, in numpy's order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define WIN 7

/* Sum of SSIM over the output rows [r0, r1) of channel-interleaved frames; per channel. */
static int ssim_band(const uint8_t *a, const uint8_t *b, int H, int W, int C, int r0, int r1,
                     double c1, double c2, double *acc) {
    const int WC = W * C, OW = (W - WIN + 1) * C;
    int32_t *sx = calloc(WC, 4), *sy = calloc(WC, 4), *sxx = calloc(WC, 4), *syy = calloc(WC, 4),
            *sxy = calloc(WC, 4);
    double *row = malloc(sizeof(double) * (OW > 0 ? OW : 1));
    if (!sx || !sy || !sxx || !syy || !sxy || !row) {
        free(sx); free(sy); free(sxx); free(syy); free(sxy); free(row);
        return -1;
    }
    for (int y = r0; y < r0 + WIN; y++) {
        const uint8_t *pa = a + (size_t)y * WC, *pb = b + (size_t)y * WC;
        for (int i = 0; i < WC; i++) {
            int32_t va = pa[i], vb = pb[i];
            sx[i] += va; sy[i] += vb; sxx[i] += va * va; syy[i] += vb * vb; sxy[i] += va * vb;
        }
    }
    const double n = WIN * WIN;
    for (int r = r0; r < r1; r++) {
        for (int i = 0; i < OW; i++) {
            int32_t X = 0, Y = 0, XX = 0, YY = 0, XY = 0;
            for (int k = 0; k < WIN; k++) {
                int j = i + k * C;
                X += sx[j]; Y += sy[j]; XX += sxx[j]; YY += syy[j]; XY += sxy[j];
            }
            /* Numerator and denominator scaled by n^2 and n(n-1): all integer until here. */
            double xy = (double)X * (double)Y, x2y2 = (double)X * X + (double)Y * Y;
            double num = (2.0 * xy + c1) * (2.0 * (n * XY - xy) + c2);
            double den = (x2y2 + c1) * (n * ((double)XX + YY) - x2y2 + c2);
            row[i] = num / den;
        }
        for (int i = 0; i < OW; i++) acc[i % C] += row[i];
        if (r + 1 < r1) {
            const uint8_t *oa = a + (size_t)r * WC, *ob = b + (size_t)r * WC;
            const uint8_t *na = a + (size_t)(r + WIN) * WC, *nb = b + (size_t)(r + WIN) * WC;
            for (int i = 0; i < WC; i++) {
                int32_t va = na[i], vb = nb[i], ua = oa[i], ub = ob[i];
                sx[i] += va - ua; sy[i] += vb - ub;
                sxx[i] += va * va - ua * ua; syy[i] += vb * vb - ub * ub; sxy[i] += va * vb - ua * ub;
            }
        }
    }
    free(sx); free(sy); free(sxx); free(syy); free(sxy); free(row);
    return 0;
}

/* numpy's float32 pairwise sum of |a - b| over n values (see the header). */
static float pairwise_absdiff(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n <= 128) {
        int32_t s = 0;
        for (size_t i = 0; i < n; i++) {
            int d = (int)a[i] - (int)b[i];
            s += d < 0 ? -d : d;
        }
        return (float)s;
    }
    size_t half = n / 2;
    half -= half % 8;
    float left = pairwise_absdiff(a, b, half);
    float right = pairwise_absdiff(a + half, b + half, n - half);
    return left + right;
}

/* metrics(a, b, h, w, c, data_range) -> (ssim, sum_sq_diff, sum_abs_diff, numpy_f32_mad) */
static PyObject *metrics(PyObject *self, PyObject *args) {
    Py_buffer ba, bb;
    int H, W, C;
    double R;
    if (!PyArg_ParseTuple(args, "y*y*iiid", &ba, &bb, &H, &W, &C, &R)) return NULL;
    if (ba.len != bb.len || ba.len != (Py_ssize_t)H * W * C || H < WIN || W < WIN || C < 1 || C > 8) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        PyErr_SetString(PyExc_ValueError, "frames must be two uint8 HxWxC buffers with H, W >= 7");
        return NULL;
    }
    const uint8_t *a = ba.buf, *b = bb.buf;
    const double n = WIN * WIN;
    const double c1 = (0.01 * R) * (0.01 * R) * n * n, c2 = (0.03 * R) * (0.03 * R) * n * (n - 1);
    const int OH = H - WIN + 1;
    double sums[8] = {0};
    long long sq = 0, ab = 0;
    float mad = 0.0f;
    int failed = 0;
    int bands = 1;
#ifdef _OPENMP
    bands = omp_get_max_threads() * 2;
#endif
    if (bands > OH) bands = OH;
    double *accs = calloc((size_t)bands * 8, sizeof(double));
    if (!accs) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bb);
        return PyErr_NoMemory();
    }
    /* Threads only pay off on large frames: waking a team costs more than a small frame. */
    const int big = (long long)H * W * C >= (1 << 18);
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : failed) if (big)
    for (int t = 0; t < bands; t++) {
        int r0 = (int)((long long)OH * t / bands), r1 = (int)((long long)OH * (t + 1) / bands);
        if (r1 > r0) failed += ssim_band(a, b, H, W, C, r0, r1, c1, c2, accs + (size_t)t * 8) != 0;
    }
    for (int t = 0; t < bands; t++)  /* in band order: deterministic */
        for (int ch = 0; ch < C; ch++) sums[ch] += accs[(size_t)t * 8 + ch];
    const size_t N = (size_t)H * W * C;
    mad = pairwise_absdiff(a, b, N) / (float)N;
#pragma omp parallel for reduction(+ : sq, ab) if (big)
    for (long long i = 0; i < (long long)N; i++) {
        int d = (int)a[i] - (int)b[i];
        sq += d * d;
        ab += d < 0 ? -d : d;
    }
    Py_END_ALLOW_THREADS
    free(accs);
    PyBuffer_Release(&ba); PyBuffer_Release(&bb);
    if (failed) return PyErr_NoMemory();
    double mean = 0;
    for (int ch = 0; ch < C; ch++) mean += sums[ch] / ((double)OH * (W - WIN + 1));
    return Py_BuildValue("dLLd", mean / C, sq, ab, (double)mad);
}

static PyMethodDef Methods[] = {
    {"metrics", metrics, METH_VARARGS, "SSIM, sums of squared and absolute differences, numpy float32 MAD."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef Module = {PyModuleDef_HEAD_INIT, "_fastssim", NULL, -1, Methods};

PyMODINIT_FUNC PyInit__fastssim(void) { return PyModule_Create(&Module); }
