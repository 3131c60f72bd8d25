/** The FLOP model against a count of one encoder's matMuls done by hand, and the start-of-run estimate line. */
import { expect } from 'chai';
import { estimateLine, forwardFlops, MEASURED_GFLOPS, trainingFlops } from '../lib/train/cost';
import { tinyConfig } from './helpers';

describe('cost of BERT passes', () => {
  it("counts the matMuls of a forward pass as a hand count over each layer's matrices does", () => {
    const c = tinyConfig({ hidden_size: 8, intermediate_size: 20, num_hidden_layers: 3, vocab_size: 50 });
    const [B, T, m] = [2, 5, 3];
    // per sequence and layer: q, k, v, output (T×8 @ 8×8 each), FFN up (T×8 @ 8×20) and down (T×20 @ 20×8),
    // scores (T×8 @ 8×T) and context (T×T @ T×8); 2 FLOPs per multiply-add
    const layer = 4 * (2 * T * 8 * 8) + 2 * (2 * T * 8 * 20) + 2 * (2 * T * 8 * T);
    const head = m * (2 * 8 * 8 + 2 * 8 * 50);
    expect(forwardFlops(c, { sequences: B, tokens: T, masked: m })).to.equal(B * 3 * layer + head);
    expect(forwardFlops(c, { sequences: B, tokens: T })).to.equal(B * 3 * layer + B * 2 * 8 * 8);
    expect(trainingFlops(c, { sequences: B, tokens: T, masked: m })).to.equal(3 * (B * 3 * layer + head));
    // gradient checkpointing runs the forward pass a second time
    expect(trainingFlops(c, { sequences: B, tokens: T, masked: m }, true)).to.equal(4 * (B * 3 * layer + head));
  });

  it("estimates wall time at the backend's measured rate, and says when it has none", () => {
    const rate = MEASURED_GFLOPS.tensorflow.train;
    expect(estimateLine('finetune RTE: 10 steps', rate * 1e9 * 90, 'train', 'tensorflow')).to.equal(
      `finetune RTE: 10 steps: about ${((rate * 90) / 1000).toPrecision(2)} TFLOP of matMuls, about 1m30s at the ${rate} GFLOP/s tensorflow sustains on BERT-base here (the ETA follows once it runs)`,
    );
    expect(estimateLine('x', 5e9, 'eval', 'cpu')).to.equal(
      'x: about 5.0 GFLOP of matMuls (no measured rate for the cpu backend)',
    );
  });
});
