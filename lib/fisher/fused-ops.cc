// Fused TensorFlow CPU kernels for the native Fisher pass (lib/fisher/fused-ops.ts builds and loads them): each
// does in one pass over memory what tfjs's eager ops do in several.
#define EIGEN_USE_THREADS
#include <algorithm>
#include <cmath>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "Eigen/Core"
#include "unsupported/Eigen/CXX11/Tensor"

using namespace tensorflow;
using CPU = Eigen::ThreadPoolDevice;
using Row = Eigen::Map<Eigen::ArrayXf>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf>;

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

// LayerNorm over the last axis: x̂ = (x − mean) / √(variance + eps) (two passes over each row: the mean, then the
// centred variance), y = x̂ γ + β, and 1/√(variance + eps) per row.
class LayerNormOp : public OpKernel {
 public:
  explicit LayerNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) { OP_REQUIRES_OK(ctx, ctx->GetAttr("eps", &eps_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("FisherlabLayerNorm: x needs an axis"));
    const int64_t w = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, gamma.NumElements() == w && beta.NumElements() == w,
                errors::InvalidArgument("FisherlabLayerNorm: γ and β need one value per column of x"));
    const int64_t rows = w == 0 ? 0 : x.NumElements() / w;
    TensorShape row_shape = x.shape();
    row_shape.set_dim(x.dims() - 1, 1);
    Tensor *y = nullptr, *normed = nullptr, *inv = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, x.shape(), &normed));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, row_shape, &inv));
    const float* in = x.flat<float>().data();
    const float* g = gamma.flat<float>().data();
    const float* b = beta.flat<float>().data();
    float* out = y->flat<float>().data();
    float* xh = normed->flat<float>().data();
    float* inv_out = inv->flat<float>().data();
    const float eps = eps_;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* row = in + r * w;
        float* o = out + r * w;
        float* n = xh + r * w;
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < w; i++) sum += row[i];
        const float mean = sum / w;
        float sq = 0.f;
#pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < w; i++) sq += (row[i] - mean) * (row[i] - mean);
        const float s = 1.f / std::sqrt(sq / w + eps);
        for (int64_t i = 0; i < w; i++) {
          n[i] = (row[i] - mean) * s;
          o[i] = n[i] * g[i] + b[i];
        }
        inv_out[r] = s;
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 8 * w, work);
  }

 private:
  float eps_;
};

// LayerNorm's gradient with respect to x, row by row from dy, γ, x̂ and 1/√(variance + eps): with dx̂ = dy γ,
// dx = (dx̂ − mean(dx̂) − x̂ mean(dx̂ x̂)) / √(variance + eps).
class LayerNormGradOp : public OpKernel {
 public:
  explicit LayerNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& normed = ctx->input(2);
    const Tensor& inv = ctx->input(3);
    OP_REQUIRES(ctx, dy.shape() == normed.shape() && dy.dims() >= 1,
                errors::InvalidArgument("FisherlabLayerNormGrad: dy and x̂ must have one shape"));
    const int64_t w = dy.dim_size(dy.dims() - 1);
    const int64_t rows = w == 0 ? 0 : dy.NumElements() / w;
    OP_REQUIRES(ctx, gamma.NumElements() == w, errors::InvalidArgument("FisherlabLayerNormGrad: one γ per column"));
    OP_REQUIRES(ctx, inv.NumElements() == rows, errors::InvalidArgument("FisherlabLayerNormGrad: one 1/σ per row"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, dy.shape(), &dx));
    const float* g = dy.flat<float>().data();
    const float* ga = gamma.flat<float>().data();
    const float* xh = normed.flat<float>().data();
    const float* s = inv.flat<float>().data();
    float* out = dx->flat<float>().data();
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* gr = g + r * w;
        const float* xr = xh + r * w;
        float* o = out + r * w;
        // dx̂ goes through the output, rounded once: recomputing it below could fuse into a multiply-add of other bits
        for (int64_t i = 0; i < w; i++) o[i] = gr[i] * ga[i];
        float sum = 0.f, dot = 0.f;
#pragma omp simd reduction(+ : sum, dot)
        for (int64_t i = 0; i < w; i++) {
          sum += o[i];
          dot += o[i] * xr[i];
        }
        const float mean = sum / w, mean_dot = dot / w;
        for (int64_t i = 0; i < w; i++) o[i] = (o[i] - mean - xr[i] * mean_dot) * s[r];
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 8 * w, work);
  }
};

// y = x + b with b added to every row of x [..., w].
class BiasAddOp : public OpKernel {
 public:
  explicit BiasAddOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& bias = ctx->input(1);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("FisherlabBiasAdd: x needs an axis"));
    const int64_t w = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, bias.NumElements() == w, errors::InvalidArgument("FisherlabBiasAdd: one bias per column of x"));
    const int64_t rows = w == 0 ? 0 : x.NumElements() / w;
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const float* in = x.flat<float>().data();
    const float* b = bias.flat<float>().data();
    float* out = y->flat<float>().data();
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++)
        for (int64_t i = 0; i < w; i++) out[r * w + i] = in[r * w + i] + b[i];
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 2 * w, work);
  }
};

// Attention weights softmax(scale · scores + mask) over the last axis of scores [B, heads, T, S], with an additive
// mask of B × S values (one row of keys per sequence).
class AttentionSoftmaxOp : public OpKernel {
 public:
  explicit AttentionSoftmaxOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& scores = ctx->input(0);
    const Tensor& mask = ctx->input(1);
    OP_REQUIRES(ctx, scores.dims() == 4, errors::InvalidArgument("FisherlabAttentionSoftmax: scores [B, heads, T, S]"));
    const int64_t B = scores.dim_size(0), S = scores.dim_size(3);
    OP_REQUIRES(ctx, mask.NumElements() == B * S,
                errors::InvalidArgument("FisherlabAttentionSoftmax: the mask needs B × S values"));
    const int64_t per_sequence = scores.dim_size(1) * scores.dim_size(2);
    const int64_t rows = B * per_sequence;
    Tensor* probs = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, scores.shape(), &probs));
    const float* in = scores.flat<float>().data();
    const float* m = mask.flat<float>().data();
    float* out = probs->flat<float>().data();
    const float scale = scale_;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        Row p(out + r * S, S);
        p = ConstRow(in + r * S, S) * scale + ConstRow(m + (r / per_sequence) * S, S);
        p = (p - p.maxCoeff()).exp();
        p *= 1.f / p.sum();
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 12 * S, work);
  }

 private:
  float scale_;
};

// The gradient of AttentionSoftmax with respect to its scores: scale · p (dy − Σ dy p), row by row.
class AttentionSoftmaxGradOp : public OpKernel {
 public:
  explicit AttentionSoftmaxGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& probs = ctx->input(1);
    OP_REQUIRES(ctx, dy.shape() == probs.shape() && dy.dims() >= 1,
                errors::InvalidArgument("FisherlabAttentionSoftmaxGrad: dy and the weights must have one shape"));
    const int64_t S = dy.dim_size(dy.dims() - 1);
    const int64_t rows = S == 0 ? 0 : dy.NumElements() / S;
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, dy.shape(), &dx));
    const float* g = dy.flat<float>().data();
    const float* p = probs.flat<float>().data();
    float* out = dx->flat<float>().data();
    const float scale = scale_;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        ConstRow gr(g + r * S, S), pr(p + r * S, S);
        const float dot = (gr * pr).sum();
        Row(out + r * S, S) = (gr - dot) * pr * scale;
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(rows, 5 * S, work);
  }

 private:
  float scale_;
};

// Each row's cross-entropy −log softmax(logits)[target] and its gradient softmax(logits) − one-hot(target).
class CrossEntropyRowsOp : public OpKernel {
 public:
  explicit CrossEntropyRowsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& logits = ctx->input(0);
    const Tensor& targets = ctx->input(1);
    OP_REQUIRES(ctx, logits.dims() == 2, errors::InvalidArgument("FisherlabCrossEntropyRows: logits [N, C]"));
    const int64_t N = logits.dim_size(0), C = logits.dim_size(1);
    OP_REQUIRES(ctx, targets.NumElements() == N,
                errors::InvalidArgument("FisherlabCrossEntropyRows: one target per row of logits"));
    const int32_t* t = targets.flat<int32_t>().data();
    for (int64_t r = 0; r < N; r++)
      OP_REQUIRES(ctx, t[r] >= 0 && t[r] < C,
                  errors::InvalidArgument("FisherlabCrossEntropyRows: target ", t[r], " of row ", r, " is not in 0..", C - 1));
    Tensor *loss = nullptr, *grad = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({N}), &loss));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, logits.shape(), &grad));
    const float* in = logits.flat<float>().data();
    float* l = loss->flat<float>().data();
    float* out = grad->flat<float>().data();
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        ConstRow x(in + r * C, C);
        Row e(out + r * C, C);
        const float max = x.maxCoeff();
        e = (x - max).exp();
        const float sum = e.sum();
        l[r] = std::log(sum) - (x[t[r]] - max);
        e *= 1.f / sum;
        e[t[r]] -= 1.f;
      }
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(N, 12 * C, work);
  }
};

// y = total + Σ_n (Σ_t a[n, t] [⊙ b[n, t]])² for a (and b) [B, c, w] and total [w]: the squared per-sample gradients
// of a bias (a = dy) or a LayerNorm weight (a = dy, b = x̂) whose sample n has the c rows a[n]. Columns go in blocks
// that stay in L1; samples are added in order.
void GroupSquareSum(OpKernelContext* ctx, const Tensor& total, const Tensor& a, const Tensor* b) {
  OP_REQUIRES(ctx, a.dims() == 3, errors::InvalidArgument("FisherlabGroupSquareSum: x must be [B, c, w]"));
  const int64_t B = a.dim_size(0), c = a.dim_size(1), w = a.dim_size(2);
  OP_REQUIRES(ctx, total.NumElements() == w, errors::InvalidArgument("FisherlabGroupSquareSum: total must be [w]"));
  OP_REQUIRES(ctx, !b || b->shape() == a.shape(), errors::InvalidArgument("FisherlabGroupSquareSum: a and b differ in shape"));
  Tensor* y = nullptr;
  OP_REQUIRES_OK(ctx, ctx->allocate_output(0, total.shape(), &y));
  const float* x = a.flat<float>().data();
  const float* z = b ? b->flat<float>().data() : nullptr;
  const float* t0 = total.flat<float>().data();
  float* out = y->flat<float>().data();
  constexpr int64_t kBlock = 512;
  auto work = [&](int64_t begin, int64_t end) {
    float acc[kBlock];
    for (int64_t lo = begin; lo < end; lo += kBlock) {
      const int64_t n = std::min(end, lo + kBlock) - lo;
      for (int64_t i = 0; i < n; i++) out[lo + i] = t0[lo + i];
      for (int64_t s = 0; s < B; s++) {
        for (int64_t i = 0; i < n; i++) acc[i] = 0.f;
        for (int64_t r = 0; r < c; r++) {
          const int64_t at = (s * c + r) * w + lo;
          if (z)
            for (int64_t i = 0; i < n; i++) acc[i] += x[at + i] * z[at + i];
          else
            for (int64_t i = 0; i < n; i++) acc[i] += x[at + i];
        }
        for (int64_t i = 0; i < n; i++) out[lo + i] += acc[i] * acc[i];
      }
    }
  };
  // a few MB of input: faster on this thread than handed to the pool (measured: 10.6 ms a batch on one thread, 16.3 on two)
  if (B * c * w < (int64_t{1} << 22))
    work(0, w);
  else
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(w, 2 * B * c + B, work);
}

class GroupSquareSumOp : public OpKernel {
 public:
  explicit GroupSquareSumOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override { GroupSquareSum(ctx, ctx->input(0), ctx->input(1), nullptr); }
};

class GroupProductSquareSumOp : public OpKernel {
 public:
  explicit GroupProductSquareSumOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& b = ctx->input(2);
    GroupSquareSum(ctx, ctx->input(0), ctx->input(1), &b);
  }
};

// y = total + Σ_n (a_nᵀ b_n)², element-wise, where a_n, b_n are rows starts[n] to starts[n+1] of a [R, p] and
// b [R, q]: the squared per-sample gradients of a weight whose samples have few rows (the word embeddings through the
// tied decoder, a few masked positions each), without writing any a_nᵀ b_n to memory. Each product is formed a
// tile of kRows × kCols in registers and squared into y at once; y's elements add the samples in n's order.
typedef float Vec __attribute__((vector_size(32)));  // 8 floats: one AVX register, two SSE ones
inline Vec LoadVec(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void StoreVec(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }

class OuterSquareSumOp : public OpKernel {
 public:
  explicit OuterSquareSumOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& total = ctx->input(0);
    const Tensor& a = ctx->input(1);
    const Tensor& b = ctx->input(2);
    const Tensor& starts = ctx->input(3);
    OP_REQUIRES(ctx, a.dims() == 2 && b.dims() == 2 && a.dim_size(0) == b.dim_size(0),
                errors::InvalidArgument("FisherlabOuterSquareSum: a [R, p] and b [R, q] must have the same rows"));
    const int64_t R = a.dim_size(0), p = a.dim_size(1), q = b.dim_size(1);
    OP_REQUIRES(ctx, total.dims() == 2 && total.dim_size(0) == p && total.dim_size(1) == q,
                errors::InvalidArgument("FisherlabOuterSquareSum: total must be [p, q] = [", p, ", ", q, "]"));
    OP_REQUIRES(ctx, starts.dims() == 1 && starts.NumElements() >= 1,
                errors::InvalidArgument("FisherlabOuterSquareSum: starts must be [B + 1]"));
    const int32_t* s = starts.flat<int32_t>().data();
    const int64_t B = starts.NumElements() - 1;
    OP_REQUIRES(ctx, s[0] == 0 && s[B] == R,
                errors::InvalidArgument("FisherlabOuterSquareSum: starts must run from 0 to R = ", R));
    for (int64_t n = 0; n < B; n++)
      OP_REQUIRES(ctx, s[n] <= s[n + 1], errors::InvalidArgument("FisherlabOuterSquareSum: starts must not decrease"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, total.shape(), &y));
    const float* A = a.flat<float>().data();
    const float* Bm = b.flat<float>().data();
    const float* t0 = total.flat<float>().data();
    float* out = y->flat<float>().data();
    // a 6 × 16 tile: 12 accumulators, 2 columns of b and a broadcast fit AVX2's 16 registers
    constexpr int64_t kRows = 6, kCols = 16;
    // rows [v0, v0 + rows) of y: copy total, then add each sample's squared tile, column block by column block
    auto rowBlock = [&](int64_t v0, int64_t rows) {
      std::copy(t0 + v0 * q, t0 + (v0 + rows) * q, out + v0 * q);
      for (int64_t n = 0; n < B; n++) {
        int64_t h0 = 0;
        if (rows == kRows)
          for (; h0 + kCols <= q; h0 += kCols) {
            // the whole tile in kRows × kCols / 8 vector registers over the sample's rows
            Vec g[kRows][kCols / 8] = {};
            for (int64_t k = s[n]; k < s[n + 1]; k++) {
              Vec bk[kCols / 8];
              for (int64_t j = 0; j < kCols / 8; j++) bk[j] = LoadVec(Bm + k * q + h0 + 8 * j);
              const float* ak = A + k * p + v0;
              for (int64_t r = 0; r < kRows; r++)
                for (int64_t j = 0; j < kCols / 8; j++) g[r][j] += ak[r] * bk[j];
            }
            for (int64_t r = 0; r < kRows; r++) {
              float* o = out + (v0 + r) * q + h0;
              for (int64_t j = 0; j < kCols / 8; j++) StoreVec(o + 8 * j, LoadVec(o + 8 * j) + g[r][j] * g[r][j]);
            }
          }
        // the edges: rows of a last partial block, columns past the last whole tile
        for (; h0 < q; h0 += kCols) {
          const int64_t cols = std::min(kCols, q - h0);
          float g[kRows][kCols] = {};
          for (int64_t k = s[n]; k < s[n + 1]; k++)
            for (int64_t r = 0; r < rows; r++)
              for (int64_t h = 0; h < cols; h++) g[r][h] += A[k * p + v0 + r] * Bm[k * q + h0 + h];
          for (int64_t r = 0; r < rows; r++)
            for (int64_t h = 0; h < cols; h++) out[(v0 + r) * q + h0 + h] += g[r][h] * g[r][h];
        }
      }
    };
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t v0 = begin * kRows; v0 < std::min(p, end * kRows); v0 += kRows)
        rowBlock(v0, std::min(kRows, p - v0));
    };
    const int64_t blocks = (p + kRows - 1) / kRows;
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(blocks, 2 * R * kRows * q + B * kRows * q, work);
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

REGISTER_OP("FisherlabLayerNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Attr("eps: float")
    .Output("y: float")
    .Output("normed: float")
    .Output("inverse_std: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(0));
      shape_inference::ShapeHandle rows;
      TF_RETURN_IF_ERROR(c->ReplaceDim(c->input(0), -1, c->MakeDim(1), &rows));
      c->set_output(2, rows);
      return absl::OkStatus();
    });
REGISTER_OP("FisherlabLayerNormGrad")
    .Input("dy: float")
    .Input("gamma: float")
    .Input("normed: float")
    .Input("inverse_std: float")
    .Output("dx: float")
    .SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabBiasAdd").Input("x: float").Input("bias: float").Output("y: float").SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabAttentionSoftmax")
    .Input("scores: float")
    .Input("mask: float")
    .Attr("scale: float")
    .Output("weights: float")
    .SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabAttentionSoftmaxGrad")
    .Input("dy: float")
    .Input("weights: float")
    .Attr("scale: float")
    .Output("dx: float")
    .SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabCrossEntropyRows")
    .Input("logits: float")
    .Input("targets: int32")
    .Output("loss: float")
    .Output("grad: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->Vector(c->Dim(c->input(0), 0)));
      c->set_output(1, c->input(0));
      return absl::OkStatus();
    });
REGISTER_OP("FisherlabGroupSquareSum").Input("total: float").Input("x: float").Output("y: float").SetShapeFn(SameAsFirst);
REGISTER_OP("FisherlabGroupProductSquareSum")
    .Input("total: float")
    .Input("a: float")
    .Input("b: float")
    .Output("y: float")
    .SetShapeFn(SameAsFirst);

REGISTER_OP("FisherlabOuterSquareSum")
    .Input("total: float")
    .Input("a: float")
    .Input("b: float")
    .Input("starts: int32")
    .Output("y: float")
    .SetShapeFn(SameAsFirst);

REGISTER_KERNEL_BUILDER(Name("FisherlabGelu").Device(DEVICE_CPU), GeluOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabGeluGrad").Device(DEVICE_CPU), GeluGradOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabSquareSum").Device(DEVICE_CPU), SquareSumOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabSquareSumInto").Device(DEVICE_CPU), SquareSumIntoOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabLayerNorm").Device(DEVICE_CPU), LayerNormOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabLayerNormGrad").Device(DEVICE_CPU), LayerNormGradOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabBiasAdd").Device(DEVICE_CPU), BiasAddOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabAttentionSoftmax").Device(DEVICE_CPU), AttentionSoftmaxOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabAttentionSoftmaxGrad").Device(DEVICE_CPU), AttentionSoftmaxGradOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabCrossEntropyRows").Device(DEVICE_CPU), CrossEntropyRowsOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabGroupSquareSum").Device(DEVICE_CPU), GroupSquareSumOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabGroupProductSquareSum").Device(DEVICE_CPU), GroupProductSquareSumOp);
REGISTER_KERNEL_BUILDER(Name("FisherlabOuterSquareSum").Device(DEVICE_CPU), OuterSquareSumOp);
