// Fused TensorFlow CPU kernels for the native Fisher pass (lib/fisher/fused-ops.ts builds and loads them): each
// does in one pass over memory what tfjs's eager ops do in several.
#define EIGEN_USE_THREADS
#include <algorithm>
#include <cmath>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

using namespace tensorflow;
using CPU = Eigen::ThreadPoolDevice;

namespace {

absl::Status SameAsFirst(shape_inference::InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); i++) c->set_output(i, c->input(0));
  return absl::OkStatus();
}

// y = x Φ(x) (GELU, erf form) and Φ(x), which its gradient needs.
class GeluOp : public OpKernel {
 public:
  explicit GeluOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor *y = nullptr, *cdf = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, x.shape(), &cdf));
    const CPU& d = ctx->eigen_device<CPU>();
    auto X = x.flat<float>();
    auto C = cdf->flat<float>();
    C.device(d) = ((X * static_cast<float>(M_SQRT1_2)).erf() + 1.f) * 0.5f;
    y->flat<float>().device(d) = X * C;
  }
};

// dx = dy (Φ(x) + x φ(x)), from x and the Φ(x) of the forward pass.
class GeluGradOp : public OpKernel {
 public:
  explicit GeluGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& cdf = ctx->input(2);
    OP_REQUIRES(ctx, dy.shape() == x.shape() && cdf.shape() == x.shape(),
                errors::InvalidArgument("FisherlabGeluGrad: dy, x and cdf must have one shape"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    const float inv_sqrt_2pi = static_cast<float>(0.5 * M_2_SQRTPI * M_SQRT1_2);
    auto X = x.flat<float>();
    dx->flat<float>().device(ctx->eigen_device<CPU>()) =
        dy.flat<float>() * (cdf.flat<float>() + X * (X.square() * -0.5f).exp() * inv_sqrt_2pi);
  }
};

// y = [total +] Σ_k x[k]² over the leading axis, accumulated in k's order, in blocks that stay in L1 (one pass over
// x however many rows it has); with `total` (FisherlabSquareSumInto) the sum starts from it.
void SquareSum(OpKernelContext* ctx, const Tensor& x, const float* total, Tensor* y) {
  const int64_t k = x.dim_size(0);
  const int64_t n = y->NumElements();
  const float* in = x.flat<float>().data();
  float* out = y->flat<float>().data();
  constexpr int64_t kBlock = 2048;
  auto sum = [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += kBlock) {
      const int64_t e = std::min(end, b + kBlock);
      for (int64_t i = b; i < e; i++) out[i] = total ? total[i] : 0.f;
      for (int64_t j = 0; j < k; j++) {
        const float* row = in + j * n;
        for (int64_t i = b; i < e; i++) out[i] += row[i] * row[i];
      }
    }
  };
  ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(n, 3 * k + 1, sum);
}

class SquareSumOp : public OpKernel {
 public:
  explicit SquareSumOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("FisherlabSquareSum: x needs a leading axis"));
    TensorShape shape = x.shape();
    shape.RemoveDim(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &y));
    SquareSum(ctx, x, nullptr, y);
  }
};

class SquareSumIntoOp : public OpKernel {
 public:
  explicit SquareSumIntoOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& total = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("FisherlabSquareSumInto: x needs a leading axis"));
    TensorShape shape = x.shape();
    shape.RemoveDim(0);
    OP_REQUIRES(ctx, total.shape() == shape,
                errors::InvalidArgument("FisherlabSquareSumInto: total must have the shape of one x[k]"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &y));
    SquareSum(ctx, x, total.flat<float>().data(), y);
  }
};

// x̂ = (x − mean) / √(variance + eps) over the last axis, and 1/√(variance + eps) per row, as fisherlab's
// LayerNorm computes them (two passes over each row: the mean, then the centred variance).
class NormalizeOp : public OpKernel {
 public:
  explicit NormalizeOp(OpKernelConstruction* ctx) : OpKernel(ctx) { OP_REQUIRES_OK(ctx, ctx->GetAttr("eps", &eps_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("FisherlabNormalize: x needs an axis"));
    const int64_t w = x.dim_size(x.dims() - 1);
    const int64_t rows = w == 0 ? 0 : x.NumElements() / w;
    TensorShape row_shape = x.shape();
    row_shape.set_dim(x.dims() - 1, 1);
    Tensor *normed = nullptr, *inv = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &normed));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, row_shape, &inv));
    const float* in = x.flat<float>().data();
    float* out = normed->flat<float>().data();
    float* inv_out = inv->flat<float>().data();
    const float eps = eps_;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* row = in + r * w;
        float* o = out + r * w;
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < w; i++) sum += row[i];
        const float mean = sum / w;
        float sq = 0.f;
#pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < w; i++) sq += (row[i] - mean) * (row[i] - mean);
        const float s = 1.f / std::sqrt(sq / w + eps);
        for (int64_t i = 0; i < w; i++) o[i] = (row[i] - mean) * s;
        inv_out[r] = s;
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 6 * w, work);
  }

 private:
  float eps_;
};

// dx = (dy − mean(dy) − x̂ mean(dy x̂)) / √(variance + eps), row by row, from x̂ and 1/√(variance + eps).
class NormalizeGradOp : public OpKernel {
 public:
  explicit NormalizeGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& normed = ctx->input(1);
    const Tensor& inv = ctx->input(2);
    OP_REQUIRES(ctx, dy.shape() == normed.shape() && dy.dims() >= 1,
                errors::InvalidArgument("FisherlabNormalizeGrad: dy and x̂ must have one shape"));
    const int64_t w = dy.dim_size(dy.dims() - 1);
    const int64_t rows = w == 0 ? 0 : dy.NumElements() / w;
    OP_REQUIRES(ctx, inv.NumElements() == rows,
                errors::InvalidArgument("FisherlabNormalizeGrad: one 1/σ per row"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, dy.shape(), &dx));
    const float* g = dy.flat<float>().data();
    const float* xh = normed.flat<float>().data();
    const float* s = inv.flat<float>().data();
    float* out = dx->flat<float>().data();
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* gr = g + r * w;
        const float* xr = xh + r * w;
        float sum = 0.f, dot = 0.f;
#pragma omp simd reduction(+ : sum, dot)
        for (int64_t i = 0; i < w; i++) {
          sum += gr[i];
          dot += gr[i] * xr[i];
        }
        const float mean = sum / w, mean_dot = dot / w;
        for (int64_t i = 0; i < w; i++) out[r * w + i] = (gr[i] - mean - xr[i] * mean_dot) * s[r];
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 6 * w, work);
  }
};

}  // namespace

REGISTER_OP("FisherlabGelu").Input("x: float").Output("y: float").Output("cdf: float").SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabGeluGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("cdf: float")
    .Output("dx: float")
    .SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabSquareSum").Input("x: float").Output("y: float").SetShapeFn([](shape_inference::InferenceContext* c) {
  shape_inference::ShapeHandle rest;
  TF_RETURN_IF_ERROR(c->Subshape(c->input(0), 1, &rest));
  c->set_output(0, rest);
  return absl::OkStatus();
});

REGISTER_OP("FisherlabSquareSumInto")
    .Input("total: float")
    .Input("x: float")
    .Output("y: float")
    .SetShapeFn(SameAsFirst);

REGISTER_OP("FisherlabNormalize")
    .Input("x: float")
    .Attr("eps: float")
    .Output("normed: float")
    .Output("inverse_std: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      shape_inference::ShapeHandle rows;
      TF_RETURN_IF_ERROR(c->ReplaceDim(c->input(0), -1, c->MakeDim(1), &rows));
      c->set_output(1, rows);
      return absl::OkStatus();
    });
REGISTER_OP("FisherlabNormalizeGrad")
    .Input("dy: float")
    .Input("normed: float")
    .Input("inverse_std: float")
    .Output("dx: float")
    .SetShapeFn(SameAsFirst);

REGISTER_KERNEL_BUILDER(Name("FisherlabGelu").Device(DEVICE_CPU), GeluOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabGeluGrad").Device(DEVICE_CPU), GeluGradOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabSquareSum").Device(DEVICE_CPU), SquareSumOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabSquareSumInto").Device(DEVICE_CPU), SquareSumIntoOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabNormalize").Device(DEVICE_CPU), NormalizeOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabNormalizeGrad").Device(DEVICE_CPU), NormalizeGradOp);
