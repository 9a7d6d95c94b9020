"""Temporary (helper H3): CUDA MAD exactness and timing; deleted after the run."""
import time, numpy as np, torch
from gt_gen.metrics import fast, cuda_ssim
print("kernel", cuda_ssim.load() is not None, cuda_ssim.error())
rng = np.random.default_rng(0)
for shape in [(7, 7, 3), (9, 200, 3), (512, 768, 3), (1088, 1920, 3)]:
    a = rng.integers(0, 256, (3, *shape), dtype=np.uint8); b = rng.integers(0, 256, a.shape, dtype=np.uint8)
    r = fast.batch_metrics(a, b, device="cuda")
    print(shape, all(r[i]["mean_abs_diff"] == float(np.abs(b[i].astype(np.float32) - a[i].astype(np.float32)).mean()) for i in range(3)))
g = torch.empty((121, 1024, 1536, 3), dtype=torch.uint8).pin_memory().numpy()
g[:] = rng.integers(0, 256, g.shape[1:], dtype=np.uint8)
c = torch.empty_like(torch.from_numpy(g)).pin_memory().numpy()
c[:] = np.clip(g.astype(np.int16) + rng.integers(-20, 21, g.shape[1:], dtype=np.int16), 0, 255)
def bench(tag):
    fast.batch_metrics(g[:16], c[:16], device="cuda")
    ts = []
    for _ in range(7):
        torch.cuda.synchronize(); t = time.perf_counter(); r = fast.batch_metrics(g, c, device="cuda"); torch.cuda.synchronize(); ts.append(time.perf_counter() - t)
    print(tag, "121x1536x1024 batch_metrics cuda median s", round(sorted(ts)[3], 4), "min", round(min(ts), 4))
    return r
r = bench("kernel numpy-float32 MAD")
want = [float(np.abs(c[i].astype(np.float32) - g[i].astype(np.float32)).mean()) for i in range(0, 121, 10)]
print("mad equal numpy", [r[i]["mean_abs_diff"] for i in range(0, 121, 10)] == want)
k = cuda_ssim.load()
class K:
    ssim_nhwc = staticmethod(k.ssim_nhwc)
    mad_sums_nhwc = staticmethod(lambda a, b, *t: a.reshape(a.shape[0], -1).sum(1, dtype=torch.int64).float())
cuda_ssim._STATE["mod"] = K
bench("baseline exact-sum MAD")
cuda_ssim._STATE["mod"] = k
bench("kernel numpy-float32 MAD again")
