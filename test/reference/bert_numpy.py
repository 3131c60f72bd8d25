#!/usr/bin/env python3
"""A slow, readable float64 reference of Hugging Face BERT's forward pass (eval mode), with numpy only.

Subcommands:
  make-checkpoint  write a tiny random Hugging Face folder (config.json, model.safetensors by hand, vocab.txt)
  forward          run the float64 forward pass on a folder and write the outputs as JSON

It is a test oracle for fisherlab: it shares no code with the TypeScript model or its safetensors reader.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# The additive attention mask for padded keys: float32's most negative value, as Hugging Face uses.
MASK_VALUE = -3.4028234663852886e38

PARTS = {
    'mlm': {'pooler': False, 'mlm': True, 'classifier': False},
    'mlm+pooler': {'pooler': True, 'mlm': True, 'classifier': False},
    'classifier': {'pooler': True, 'mlm': False, 'classifier': True},
    'base': {'pooler': True, 'mlm': False, 'classifier': False},
}

DTYPES = ('F32', 'F16', 'BF16')


def architecture_name(parts):
    """Hugging Face class name for a set of parts (as lib/bert/parameters.ts names it)."""
    if parts['classifier']:
        return 'BertForSequenceClassification'
    if parts['mlm']:
        return 'BertForPreTraining' if parts['pooler'] else 'BertForMaskedLM'
    return 'BertModel'


def parameter_specs(cfg, parts):
    """(name, shape) of every parameter tensor in Hugging Face's named_parameters() order."""
    H, I = cfg['hidden_size'], cfg['intermediate_size']
    specs = []

    def linear(prefix, out, inp):
        specs.extend([(prefix + '.weight', (out, inp)), (prefix + '.bias', (out,))])

    def layer_norm(prefix):
        specs.extend([(prefix + '.weight', (H,)), (prefix + '.bias', (H,))])

    specs.append(('bert.embeddings.word_embeddings.weight', (cfg['vocab_size'], H)))
    specs.append(('bert.embeddings.position_embeddings.weight', (cfg['max_position_embeddings'], H)))
    specs.append(('bert.embeddings.token_type_embeddings.weight', (cfg['type_vocab_size'], H)))
    layer_norm('bert.embeddings.LayerNorm')
    for i in range(cfg['num_hidden_layers']):
        p = 'bert.encoder.layer.%d' % i
        linear(p + '.attention.self.query', H, H)
        linear(p + '.attention.self.key', H, H)
        linear(p + '.attention.self.value', H, H)
        linear(p + '.attention.output.dense', H, H)
        layer_norm(p + '.attention.output.LayerNorm')
        linear(p + '.intermediate.dense', I, H)
        linear(p + '.output.dense', H, I)
        layer_norm(p + '.output.LayerNorm')
    if parts['pooler']:
        linear('bert.pooler.dense', H, H)
    if parts['mlm']:
        specs.append(('cls.predictions.bias', (cfg['vocab_size'],)))
        linear('cls.predictions.transform.dense', H, H)
        layer_norm('cls.predictions.transform.LayerNorm')
    if parts['classifier']:
        linear('classifier', cfg['num_labels'], H)
    return specs


def random_tensor(rng, name, shape):
    """Random float64 values: matrices N(0, 0.2), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1)."""
    if len(shape) == 2:
        return rng.normal(0.0, 0.2, shape)
    if name.endswith('LayerNorm.weight'):
        return 1.0 + rng.normal(0.0, 0.1, shape)
    return rng.normal(0.0, 0.1, shape)


def encode(values, dtype):
    """Little-endian bytes of a float array in a safetensors dtype (BF16 rounds float32 to nearest even)."""
    f32 = np.asarray(values, dtype=np.float32)
    if dtype == 'F32':
        return f32.astype('<f4').tobytes()
    if dtype == 'F16':
        return f32.astype('<f2').tobytes()
    bits = f32.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype('<u2').tobytes()


def decode(raw, dtype, shape):
    """A float64 array from the raw little-endian bytes of one safetensors tensor."""
    if dtype == 'F32':
        arr = np.frombuffer(raw, dtype='<f4')
    elif dtype == 'F16':
        arr = np.frombuffer(raw, dtype='<f2')
    elif dtype == 'BF16':
        arr = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
    elif dtype == 'F64':
        arr = np.frombuffer(raw, dtype='<f8')
    else:
        raise ValueError('unsupported safetensors dtype %s' % dtype)
    return arr.astype(np.float64).reshape(shape)


def write_safetensors(path, tensors):
    """Writes [(name, dtype, shape, bytes)] as a safetensors file: u64 header length, JSON header, data."""
    header = {'__metadata__': {'format': 'pt'}}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': list(shape), 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)


def read_safetensors(path):
    """{name: float64 array} from a safetensors file, checking offsets against the file size."""
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        if not 0 <= start <= end <= len(data):
            raise ValueError('%s: tensor %s has offsets %s outside the data' % (path, name, info['data_offsets']))
        out[name] = decode(data[start:end], info['dtype'], info['shape'])
    return out


def legacy_name(name):
    """The pre-2019 name of a parameter: LayerNorm.weight/.bias become LayerNorm.gamma/.beta."""
    if '.LayerNorm.' in name:
        return name.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')
    return name


def canonical_weights(raw):
    """Canonical Hugging Face names from a checkpoint's tensors: gamma/beta renamed; tied and NSP tensors dropped."""
    out = {}
    for name, value in raw.items():
        if name.startswith('cls.seq_relationship.') or name == 'cls.predictions.decoder.weight':
            continue
        if '.LayerNorm.' in name:
            name = name.replace('LayerNorm.gamma', 'LayerNorm.weight').replace('LayerNorm.beta', 'LayerNorm.bias')
        out[name] = value
    return out


def make_config(args, parts):
    """The config.json object for make-checkpoint's arguments."""
    cfg = {
        'architectures': [architecture_name(parts)],
        'model_type': 'bert',
        'vocab_size': args.vocab_size,
        'hidden_size': args.hidden,
        'num_hidden_layers': args.layers,
        'num_attention_heads': args.heads,
        'intermediate_size': args.intermediate,
        'hidden_act': 'gelu',
        'max_position_embeddings': args.max_positions,
        'type_vocab_size': args.type_vocab,
        'layer_norm_eps': 1e-12,
        'hidden_dropout_prob': 0.1,
        'attention_probs_dropout_prob': 0.1,
        'initializer_range': 0.02,
        'num_labels': args.num_labels,
        'pad_token_id': 0,
        'torch_dtype': {'F32': 'float32', 'F16': 'float16', 'BF16': 'bfloat16'}[args.dtype],
    }
    if parts['classifier']:
        cfg['problem_type'] = 'regression' if args.num_labels == 1 else 'single_label_classification'
        cfg['id2label'] = {str(i): 'LABEL_%d' % i for i in range(args.num_labels)}
        cfg['label2id'] = {'LABEL_%d' % i: i for i in range(args.num_labels)}
    return cfg


def make_checkpoint(args):
    """Writes a random Hugging Face folder: config.json, model.safetensors and vocab.txt."""
    if args.hidden % args.heads != 0:
        sys.exit('--hidden %d is not a multiple of --heads %d' % (args.hidden, args.heads))
    if args.vocab_size < 5:
        sys.exit('--vocab-size must be at least 5 (the special tokens)')
    parts = PARTS[args.parts]
    cfg = make_config(args, parts)
    rng = np.random.default_rng(args.seed)
    values = [(name, shape, random_tensor(rng, name, shape)) for name, shape in parameter_specs(cfg, parts)]
    if args.legacy_names:
        values = [(legacy_name(name), shape, v) for name, shape, v in values]
        if parts['mlm']:
            H = args.hidden
            values.append(('cls.predictions.decoder.weight', (args.vocab_size, H), values[0][2]))
            values.append(('cls.seq_relationship.weight', (2, H), rng.normal(0.0, 0.2, (2, H))))
            values.append(('cls.seq_relationship.bias', (2,), rng.normal(0.0, 0.1, (2,))))
    os.makedirs(args.out, exist_ok=True)
    tensors = [(name, args.dtype, shape, encode(v, args.dtype)) for name, shape, v in values]
    write_safetensors(os.path.join(args.out, 'model.safetensors'), tensors)
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')
    special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    with open(os.path.join(args.out, 'vocab.txt'), 'w') as f:
        for i in range(args.vocab_size):
            f.write((special[i] if i < len(special) else 'tok%d' % i) + '\n')


def layer_norm(x, w, b, eps):
    """LayerNorm over the last axis with the biased variance."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def linear(x, W, prefix):
    """x Wᵀ + b for the nn.Linear called `prefix` (weights [out, in])."""
    return x @ W[prefix + '.weight'].T + W[prefix + '.bias']


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    """GELU in its exact erf form: 0.5·x·(1 + erf(x/√2))."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def softmax(x):
    """Softmax over the last axis, shifted by the maximum."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def encoder_layer(x, W, p, cfg, mask_add):
    """One BertLayer: self-attention, output dense + LayerNorm, intermediate GELU, output dense + LayerNorm."""
    B, T, H = x.shape
    heads = cfg['num_attention_heads']
    d = H // heads
    eps = cfg['layer_norm_eps']

    def split(t):
        return t.reshape(B, T, heads, d).transpose(0, 2, 1, 3)  # [B, heads, T, d]

    q = split(linear(x, W, p + '.attention.self.query'))
    k = split(linear(x, W, p + '.attention.self.key'))
    v = split(linear(x, W, p + '.attention.self.value'))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + mask_add[:, None, None, :]
    context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(B, T, H)
    attn = linear(context, W, p + '.attention.output.dense')
    attn = layer_norm(attn + x, W[p + '.attention.output.LayerNorm.weight'], W[p + '.attention.output.LayerNorm.bias'], eps)
    inter = gelu(linear(attn, W, p + '.intermediate.dense'))
    out = linear(inter, W, p + '.output.dense')
    return layer_norm(out + attn, W[p + '.output.LayerNorm.weight'], W[p + '.output.LayerNorm.bias'], eps)


def forward(cfg, W, input_ids, token_type_ids, attention_mask):
    """The float64 forward pass; a dict of the outputs the checkpoint's parts provide."""
    ids = np.asarray(input_ids, dtype=np.int64)
    types = np.asarray(token_type_ids, dtype=np.int64)
    mask = np.asarray(attention_mask, dtype=np.float64)
    B, T = ids.shape
    if T > cfg['max_position_embeddings']:
        raise ValueError('sequence length %d exceeds max_position_embeddings %d' % (T, cfg['max_position_embeddings']))
    if ids.min() < 0 or ids.max() >= cfg['vocab_size']:
        raise ValueError('input ids must lie in [0, %d)' % cfg['vocab_size'])
    if types.min() < 0 or types.max() >= cfg['type_vocab_size']:
        raise ValueError('token type ids must lie in [0, %d)' % cfg['type_vocab_size'])
    eps = cfg['layer_norm_eps']
    x = (W['bert.embeddings.word_embeddings.weight'][ids]
         + W['bert.embeddings.position_embeddings.weight'][np.arange(T)][None, :, :]
         + W['bert.embeddings.token_type_embeddings.weight'][types])
    x = layer_norm(x, W['bert.embeddings.LayerNorm.weight'], W['bert.embeddings.LayerNorm.bias'], eps)
    mask_add = np.where(mask > 0, 0.0, MASK_VALUE)
    for i in range(cfg['num_hidden_layers']):
        x = encoder_layer(x, W, 'bert.encoder.layer.%d' % i, cfg, mask_add)
    out = {'last_hidden_state': x}
    if 'bert.pooler.dense.weight' in W:
        out['pooled_output'] = np.tanh(linear(x[:, 0], W, 'bert.pooler.dense'))
    if 'cls.predictions.bias' in W:
        t = gelu(linear(x, W, 'cls.predictions.transform.dense'))
        t = layer_norm(t, W['cls.predictions.transform.LayerNorm.weight'], W['cls.predictions.transform.LayerNorm.bias'], eps)
        out['mlm_logits'] = t @ W['bert.embeddings.word_embeddings.weight'].T + W['cls.predictions.bias']
    if 'classifier.weight' in W:
        if 'pooled_output' not in out:
            raise ValueError('classifier.* present without bert.pooler.dense.*')
        out['logits'] = linear(out['pooled_output'], W, 'classifier')
    return out


def parse_ids(text):
    """A one-row batch from a comma-separated list of integers."""
    return [[int(t) for t in text.split(',') if t.strip() != '']]


def read_inputs(args):
    """(input_ids, token_type_ids, attention_mask) as lists of rows, with zeros / ones as defaults."""
    if args.inputs:
        with open(args.inputs) as f:
            batch = json.load(f)
        ids, types, mask = batch['input_ids'], batch.get('token_type_ids'), batch.get('attention_mask')
    elif args.input_ids:
        ids = parse_ids(args.input_ids)
        types = parse_ids(args.token_type_ids) if args.token_type_ids else None
        mask = parse_ids(args.attention_mask) if args.attention_mask else None
    else:
        sys.exit('forward: give --input-ids or --inputs')
    if types is None:
        types = [[0] * len(row) for row in ids]
    if mask is None:
        mask = [[1] * len(row) for row in ids]
    lengths = {len(row) for rows in (ids, types, mask) for row in rows}
    if len(lengths) != 1 or not (len(ids) == len(types) == len(mask)):
        sys.exit('forward: input_ids, token_type_ids and attention_mask must be rectangular and of the same shape')
    return ids, types, mask


def run_forward(args):
    """Loads a folder, runs the forward pass and writes the outputs as JSON."""
    with open(os.path.join(args.model, 'config.json')) as f:
        cfg = json.load(f)
    cfg.setdefault('layer_norm_eps', 1e-12)
    if cfg.get('hidden_act', 'gelu') != 'gelu':
        sys.exit('only hidden_act "gelu" is supported')
    W = canonical_weights(read_safetensors(os.path.join(args.model, 'model.safetensors')))
    ids, types, mask = read_inputs(args)
    out = forward(cfg, W, ids, types, mask)
    with open(args.output, 'w') as f:
        json.dump({k: v.tolist() for k, v in out.items()}, f)


def main(argv=None):
    """The command line: make-checkpoint or forward."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', required=True)
    mk = sub.add_parser('make-checkpoint', help='write a tiny random Hugging Face BERT folder')
    mk.add_argument('--out', required=True)
    mk.add_argument('--seed', type=int, required=True)
    mk.add_argument('--vocab-size', type=int, default=50)
    mk.add_argument('--hidden', type=int, default=16)
    mk.add_argument('--layers', type=int, default=2)
    mk.add_argument('--heads', type=int, default=2)
    mk.add_argument('--intermediate', type=int, default=32)
    mk.add_argument('--max-positions', type=int, default=24)
    mk.add_argument('--type-vocab', type=int, default=2)
    mk.add_argument('--parts', choices=sorted(PARTS), default='mlm')
    mk.add_argument('--num-labels', type=int, default=3)
    mk.add_argument('--dtype', choices=DTYPES, default='F32')
    mk.add_argument('--legacy-names', action='store_true',
                    help='LayerNorm.gamma/.beta, plus cls.predictions.decoder.weight and cls.seq_relationship.*')
    fw = sub.add_parser('forward', help='float64 forward pass of a folder')
    fw.add_argument('--model', required=True)
    fw.add_argument('--input-ids', help='comma-separated ids of one sequence')
    fw.add_argument('--token-type-ids')
    fw.add_argument('--attention-mask')
    fw.add_argument('--inputs', help='JSON file {input_ids: [[...]], token_type_ids?, attention_mask?}')
    fw.add_argument('--output', required=True)
    args = ap.parse_args(argv)
    if args.command == 'make-checkpoint':
        make_checkpoint(args)
    else:
        run_forward(args)


if __name__ == '__main__':
    main()
