// Exact SSIM (scikit-image's defaults) of uint8 NHWC frame batches on CUDA.
//
// One thread per output column and channel walks a band of output rows, keeping the five
// 7x7 window sums (x, y, x^2, y^2, xy) as exact int32 running sums: add the row entering the
// window, subtract the row leaving it. Only the final SSIM ratio is double. Each block
// reduces its threads' sums in a fixed order and writes one partial; the host sums the
// partials, so the result is deterministic (no floating-point atomics).
#include <torch/extension.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#define WIN 7
#define THREADS 128

__device__ __forceinline__ void row_sums(const uint8_t* __restrict__ pa, const uint8_t* __restrict__ pb,
                                         int r, int ox, int W, int C, int* h) {
  int hx = 0, hy = 0, hxx = 0, hyy = 0, hxy = 0;
  const size_t base = ((size_t)r * W + ox) * C;
#pragma unroll
  for (int k = 0; k < WIN; k++) {
    int va = pa[base + (size_t)k * C], vb = pb[base + (size_t)k * C];
    hx += va; hy += vb; hxx += va * va; hyy += vb * vb; hxy += va * vb;
  }
  h[0] = hx; h[1] = hy; h[2] = hxx; h[3] = hyy; h[4] = hxy;
}

__global__ void ssim_kernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ b, int H, int W,
                            int C, int band_rows, double c1, double c2, double* __restrict__ out) {
  const int OH = H - WIN + 1, OW = W - WIN + 1;
  const int ox = blockIdx.x * THREADS + threadIdx.x;
  const int nc = blockIdx.z, n = nc / C, ch = nc % C;
  const int r0 = blockIdx.y * band_rows, r1 = min(r0 + band_rows, OH);
  double acc = 0.0;
  if (ox < OW && r0 < r1) {
    const size_t frame = (size_t)n * H * W * C + ch;
    const uint8_t* pa = a + frame;
    const uint8_t* pb = b + frame;
    int s[5] = {0, 0, 0, 0, 0}, h[5];
    for (int r = r0; r < r0 + WIN; r++) {
      row_sums(pa, pb, r, ox, W, C, h);
#pragma unroll
      for (int i = 0; i < 5; i++) s[i] += h[i];
    }
    const double nn = WIN * WIN;
    for (int r = r0; r < r1; r++) {
      double X = s[0], Y = s[1];
      double xy = X * Y, x2y2 = X * X + Y * Y;
      double num = (2.0 * xy + c1) * (2.0 * (nn * s[4] - xy) + c2);
      double den = (x2y2 + c1) * (nn * ((double)s[2] + s[3]) - x2y2 + c2);
      acc += num / den;
      if (r + 1 < r1) {
        int g[5];
        row_sums(pa, pb, r + WIN, ox, W, C, h);
        row_sums(pa, pb, r, ox, W, C, g);
#pragma unroll
        for (int i = 0; i < 5; i++) s[i] += h[i] - g[i];
      }
    }
  }
  __shared__ double sh[THREADS];
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = THREADS / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) sh[threadIdx.x] += sh[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    out[((size_t)nc * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x] = sh[0];
}

// a, b: uint8 [N, H, W, C] contiguous on one CUDA device. Returns SSIM per frame (double [N]).
torch::Tensor ssim_nhwc(torch::Tensor a, torch::Tensor b, double data_range) {
  TORCH_CHECK(a.is_cuda() && b.is_cuda() && a.dtype() == torch::kUInt8 && b.dtype() == torch::kUInt8,
              "uint8 CUDA tensors expected");
  TORCH_CHECK(a.sizes() == b.sizes() && a.dim() == 4, "two [N, H, W, C] tensors of one shape expected");
  a = a.contiguous();
  b = b.contiguous();
  const int N = a.size(0), H = a.size(1), W = a.size(2), C = a.size(3);
  TORCH_CHECK(H >= WIN && W >= WIN, "frames must be at least 7x7");
  const int OH = H - WIN + 1, OW = W - WIN + 1, band_rows = 32;
  dim3 grid((OW + THREADS - 1) / THREADS, (OH + band_rows - 1) / band_rows, N * C);
  auto out = torch::zeros({(long)N * C, (long)grid.y, (long)grid.x}, a.options().dtype(torch::kFloat64));
  const double nn = WIN * WIN;
  const double c1 = (0.01 * data_range) * (0.01 * data_range) * nn * nn;
  const double c2 = (0.03 * data_range) * (0.03 * data_range) * nn * (nn - 1);
  ssim_kernel<<<grid, THREADS, 0, c10::cuda::getCurrentCUDAStream()>>>(
      a.data_ptr<uint8_t>(), b.data_ptr<uint8_t>(), H, W, C, band_rows, c1, c2, out.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out.view({N, C, -1}).sum(-1).div((double)OH * OW).mean(1);
}

// ---------------------------------------------------------------------------------------------
// sglang's mean absolute difference: numpy's float32 pairwise sum of |a - b| (see
// gt_gen/metrics/npmean.py). Runs of <= 128 values are leaves whose integer sums are exact in
// float32; only the adds above them round, in numpy's order, which one thread per frame walks.

// One thread per leaf: the exact sum of |a - b| over [bounds[i], bounds[i + 1]) of frame y.
__global__ void mad_leaves_kernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ b,
                                  const int64_t* __restrict__ bounds, int64_t leaves, int64_t n,
                                  float* __restrict__ out) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= leaves) return;
  const size_t frame = (size_t)blockIdx.y * n;
  int s = 0;
  for (int64_t k = bounds[i]; k < bounds[i + 1]; k++) {
    int d = (int)a[frame + k] - (int)b[frame + k];
    s += d < 0 ? -d : d;
  }
  out[(size_t)blockIdx.y * leaves + i] = (float)s;
}

// numpy's recursion over n values (split at n/2 rounded down to a multiple of 8; runs of <= 128
// values are leaves; left sum + right sum in float32), walked with an explicit stack. A node at
// depth `maxdepth` counts as a leaf too: its sum was computed by another thread.
__device__ float pairwise_walk(const float* __restrict__ lv, int64_t n, int maxdepth) {
  int64_t len[64];
  float left[64];
  unsigned char right_pending[64];
  int sp = 0;
  len[0] = n;
  right_pending[0] = 0;
  int64_t li = 0;
  float val = 0.0f;
  while (sp >= 0) {
    const int64_t m = len[sp];
    if (m > 128 && sp < maxdepth) {  // descend into the left half
      int64_t h = m / 2;
      h -= h % 8;
      len[sp + 1] = h;
      right_pending[sp + 1] = 0;
      sp++;
      continue;
    }
    val = lv[li++];
    sp--;
    while (sp >= 0) {  // hand the value up until a node still needs its right half
      if (!right_pending[sp]) {
        left[sp] = val;
        right_pending[sp] = 1;
        int64_t h = len[sp] / 2;
        h -= h % 8;
        len[sp + 1] = len[sp] - h;
        right_pending[sp + 1] = 0;
        sp++;
        break;
      }
      val = left[sp] + val;
      sp--;
    }
  }
  return val;
}

// One thread per (frontier node, frame): the float32 sum of the node's subtree from its leaves.
__global__ void mad_subtree_kernel(const float* __restrict__ leaf_sums, int64_t leaves,
                                   const int64_t* __restrict__ node_len, const int64_t* __restrict__ node_first,
                                   int64_t nodes, float* __restrict__ out) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= nodes) return;
  const float* lv = leaf_sums + (size_t)blockIdx.y * leaves + node_first[i];
  out[(size_t)blockIdx.y * nodes + i] = pairwise_walk(lv, node_len[i], 64);
}

// One thread per frame: the top of the tree, down to the frontier nodes.
__global__ void mad_top_kernel(const float* __restrict__ node_sums, int64_t nodes, int64_t n, int depth,
                               int frames, float* __restrict__ out) {
  const int f = blockIdx.x * blockDim.x + threadIdx.x;
  if (f >= frames) return;
  out[f] = pairwise_walk(node_sums + (size_t)f * nodes, n, depth);
}

// a, b: uint8 [N, ...] contiguous on one CUDA device. bounds: int64 leaf bounds of numpy's tree
// for the per-frame size n; node_len / node_first: the tree's nodes at `depth` (and the leaves
// above it), left to right, with the index of each one's first leaf. Returns numpy's float32
// sum of |a - b| per frame (float [N]).
torch::Tensor mad_sums_nhwc(torch::Tensor a, torch::Tensor b, torch::Tensor bounds,
                            torch::Tensor node_len, torch::Tensor node_first, int64_t depth) {
  TORCH_CHECK(a.is_cuda() && b.is_cuda() && a.dtype() == torch::kUInt8 && b.dtype() == torch::kUInt8,
              "uint8 CUDA tensors expected");
  TORCH_CHECK(a.sizes() == b.sizes(), "two tensors of one shape expected");
  TORCH_CHECK(bounds.dtype() == torch::kInt64 && node_len.dtype() == torch::kInt64 &&
              node_first.dtype() == torch::kInt64, "int64 tree tensors expected");
  a = a.contiguous();
  b = b.contiguous();
  const int N = a.size(0);
  const int64_t n = a.numel() / N, leaves = bounds.size(0) - 1, nodes = node_len.size(0);
  auto stream = c10::cuda::getCurrentCUDAStream();
  auto leaf = torch::empty({(long)N, (long)leaves}, a.options().dtype(torch::kFloat32));
  mad_leaves_kernel<<<dim3((unsigned)((leaves + 255) / 256), N), 256, 0, stream>>>(
      a.data_ptr<uint8_t>(), b.data_ptr<uint8_t>(), bounds.data_ptr<int64_t>(), leaves, n, leaf.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  auto node = torch::empty({(long)N, (long)nodes}, a.options().dtype(torch::kFloat32));
  mad_subtree_kernel<<<dim3((unsigned)((nodes + 127) / 128), N), 128, 0, stream>>>(
      leaf.data_ptr<float>(), leaves, node_len.data_ptr<int64_t>(), node_first.data_ptr<int64_t>(), nodes,
      node.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  auto out = torch::empty({(long)N}, a.options().dtype(torch::kFloat32));
  mad_top_kernel<<<(N + 31) / 32, 32, 0, stream>>>(node.data_ptr<float>(), nodes, n, (int)depth, N,
                                                   out.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}
