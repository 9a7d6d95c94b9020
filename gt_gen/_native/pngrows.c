/* PNG row filters undone (8-bit samples, any bytes per pixel), for gt_gen.png_rgb8.
 *
 * Why in C: a GT key frame is a PNG (three per case, read on every compare). Reading one took
 * libpng (through OpenCV) ~11 ms for a 768x512 frame, of which ~9 ms was zlib 1.2's inflate;
 * gt_gen.png_rgb8 now inflates with a faster deflate library and needs the filters undone
 * after it. Sub, Average and Paeth depend on the byte one pixel to the left, so a row is a
 * serial loop: in numpy that is a Python loop per byte, here ~1 ns a byte.
 *
 * What it computes is fixed by the PNG specification (section 9, "Filtering"): each row is one
 * filter-type byte (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) followed by its filtered bytes,
 * and the unfiltered bytes are the image's samples, the same whichever decoder undoes them. A
 * filter type above 4 is an error (the caller then lets PIL decide, as for any damaged file).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return (uint8_t)a;
    return (uint8_t)(pb <= pc ? b : c);
}

/* Rows [0, h) of `in` (each 1 + stride bytes) into `out` (h * stride bytes); 0, or -1 on a
 * filter type above 4. */
static int unfilter_rows(const uint8_t *in, uint8_t *out, size_t h, size_t stride, size_t bpp) {
    for (size_t y = 0; y < h; y++) {
        const uint8_t *src = in + y * (stride + 1) + 1;
        const int type = in[y * (stride + 1)];
        uint8_t *dst = out + y * stride;
        const uint8_t *up = y ? dst - stride : NULL; /* the row above, already unfiltered */
        size_t i = 0;
        switch (type) {
        case 0:
            memcpy(dst, src, stride);
            break;
        case 1:
            for (; i < bpp && i < stride; i++) dst[i] = src[i];
            for (; i < stride; i++) dst[i] = (uint8_t)(src[i] + dst[i - bpp]);
            break;
        case 2:
            if (!up) memcpy(dst, src, stride);
            else for (; i < stride; i++) dst[i] = (uint8_t)(src[i] + up[i]);
            break;
        case 3:
            for (; i < bpp && i < stride; i++) dst[i] = (uint8_t)(src[i] + ((up ? up[i] : 0) >> 1));
            for (; i < stride; i++) dst[i] = (uint8_t)(src[i] + ((dst[i - bpp] + (up ? up[i] : 0)) >> 1));
            break;
        case 4:
            for (; i < bpp && i < stride; i++) dst[i] = (uint8_t)(src[i] + paeth(0, up ? up[i] : 0, 0));
            if (up)
                for (; i < stride; i++) dst[i] = (uint8_t)(src[i] + paeth(dst[i - bpp], up[i], up[i - bpp]));
            else /* no row above: b = c = 0, so Paeth picks the left byte (Sub) */
                for (; i < stride; i++) dst[i] = (uint8_t)(src[i] + dst[i - bpp]);
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* unfilter(rows, out, h, stride, bpp): out (writable, h * stride bytes) = the samples of the
 * h filtered rows in `rows` (h * (1 + stride) bytes). */
static PyObject *unfilter(PyObject *self, PyObject *args) {
    Py_buffer in, out;
    Py_ssize_t h, stride, bpp;
    if (!PyArg_ParseTuple(args, "y*w*nnn", &in, &out, &h, &stride, &bpp)) return NULL;
    int bad_shape = h < 0 || stride < 1 || bpp < 1 || bpp > 8 || stride % bpp ||
                    (h && stride > (PY_SSIZE_T_MAX / h) - 1) || in.len != h * (stride + 1) ||
                    out.len != h * stride;
    int rc = 0;
    if (!bad_shape) {
        Py_BEGIN_ALLOW_THREADS
        rc = unfilter_rows(in.buf, out.buf, (size_t)h, (size_t)stride, (size_t)bpp);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    if (bad_shape) {
        PyErr_SetString(PyExc_ValueError, "unfilter: rows must be h * (1 + stride) bytes, out h * stride, "
                                          "stride a multiple of bpp (1 to 8)");
        return NULL;
    }
    if (rc) {
        PyErr_SetString(PyExc_ValueError, "unfilter: a row's filter type is above 4");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef Methods[] = {
    {"unfilter", unfilter, METH_VARARGS,
     "unfilter(rows, out, h, stride, bpp): PNG row filters (8-bit samples) undone into out; "
     "ValueError on a filter type above 4 or sizes that do not fit."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef Module = {PyModuleDef_HEAD_INIT, "_pngrows", NULL, -1, Methods};

PyMODINIT_FUNC PyInit__pngrows(void) { return PyModule_Create(&Module); }
