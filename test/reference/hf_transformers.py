#!/usr/bin/env python3
"""The real Hugging Face implementation (transformers + PyTorch, float64) as a test oracle for fisherlab.

Runs inside the virtual environment made by scripts/hf-venv.sh (.venv-hf/bin/python).

Subcommands:
  make-checkpoint    a randomly initialized, then perturbed BertForMaskedLM / BertForSequenceClassification /
                     BertModel / BertForPreTraining written with save_pretrained (config.json, model.safetensors,
                     sharded with --max-shard-size) plus a vocab.txt; --layout bin writes pytorch_model.bin (sharded:
                     pytorch_model.bin.index.json) with torch.save, as transformers 4 did with safe_serialization=False;
                     --dtype, --legacy-names (LayerNorm gamma/beta), --views (non-contiguous and offset tensors)
  malicious          a model folder whose pytorch_model.bin (torch.save) holds an object whose unpickling runs
                     os.system('touch MARKER'): a reader that executes pickles creates MARKER
  forward            one sequence through a folder in eval mode, float64, outputs as JSON shaped like
                     `fisherlab forward`'s (no batch dimension)
  names              [name, shape] of named_parameters() and the Dropout module names of a class built
                     from a config.json (on the meta device, so BERT-base takes no memory)
  grads              float64 gradients of the masked-LM loss per parameter name, as JSON
  per-sample-fisher  the mean over examples of each example's squared masked-LM loss gradient
                     (empirical Fisher diagonal), float32 safetensors, one tensor per parameter name
  batch              several of the above in one process (importing torch + transformers takes seconds):
                     --jobs FILE (or -) holds a JSON array of argument lists, e.g. [["names", "--parts", "mlm", ...]]
"""
import argparse
import inspect
import json
import os
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_VERBOSITY', 'error')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
os.environ.setdefault('HF_HUB_DISABLE_PROGRESS_BARS', '1')

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification, BertModel  # noqa: E402

CLASSES = {
    'mlm': BertForMaskedLM,
    'pretraining': BertForPreTraining,
    'classifier': BertForSequenceClassification,
    'base': BertModel,
}
DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float64': torch.float64}
SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']


def versions():
    return {'torch': torch.__version__, 'transformers': transformers.__version__}


def ids(text):
    """Parses '1,2,3' into a list of ints."""
    return [int(s) for s in text.split(',') if s.strip() != '']


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def model_class(config):
    """The transformers class named by config.architectures (BertModel when absent)."""
    names = getattr(config, 'architectures', None) or ['BertModel']
    cls = getattr(transformers, names[0], None)
    if cls is None:
        raise SystemExit('unknown architecture %r in config.json' % names[0])
    return cls


def load(model_dir, attn, class_name=None):
    """from_pretrained (as config.architectures says, or as class_name) in float64 and eval mode; reports missing or unexpected tensors."""
    config = transformers.AutoConfig.from_pretrained(model_dir)
    cls = getattr(transformers, class_name) if class_name else model_class(config)
    model, info = cls.from_pretrained(model_dir, attn_implementation=attn, output_loading_info=True)
    problems = {k: sorted(v) for k, v in info.items() if k in ('missing_keys', 'unexpected_keys', 'mismatched_keys', 'error_msgs') and v}
    # Keys that are tied (decoder weight/bias) are reported by some versions; they are not problems.
    tied = set(getattr(model, '_tied_weights_keys', None) or [])
    if 'missing_keys' in problems:
        problems['missing_keys'] = [k for k in problems['missing_keys'] if k not in tied]
        if not problems['missing_keys']:
            del problems['missing_keys']
    model = model.double().eval()
    return model, problems


def tensor2d(rows, dtype=torch.long):
    return torch.tensor(rows, dtype=dtype)


# ---------------------------------------------------------------------------------------------- make-checkpoint

def legacy_name(name):
    """The name old BERT checkpoints (TensorFlow conversions) give a LayerNorm tensor: gamma/beta."""
    return name.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')


def as_views(state_dict):
    """The same values as strided views: 2-D weights transposed twice (column-major strides), vectors at an offset
    into a larger storage; tensors sharing a storage (tied weights) stay shared."""
    out, seen = {}, {}
    for name, t in state_dict.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if key in seen:
            out[name] = out[seen[key]]
        elif t.dim() == 2:
            out[name] = t.t().contiguous().t()
        elif t.dim() == 1 and t.is_floating_point():
            out[name] = torch.cat([torch.zeros(3, dtype=t.dtype), t, torch.zeros(2, dtype=t.dtype)])[3:3 + t.numel()]
        else:
            out[name] = t
        seen.setdefault(key, name)
    return out


def save_bin(state_dict, out, max_shard_size):
    """pytorch_model.bin, or shards with pytorch_model.bin.index.json, written by torch.save as transformers 4 did."""
    from huggingface_hub import split_torch_state_dict_into_shards
    split = split_torch_state_dict_into_shards(state_dict, filename_pattern='pytorch_model{suffix}.bin', max_shard_size=max_shard_size)
    for filename, names in split.filename_to_tensors.items():
        torch.save({n: state_dict[n] for n in names}, os.path.join(out, filename))
    if split.is_sharded:
        with open(os.path.join(out, 'pytorch_model.bin.index.json'), 'w') as f:
            json.dump({'metadata': split.metadata, 'weight_map': split.tensor_to_filename}, f, indent=2)


def cmd_make_checkpoint(a):
    vocab = None
    if a.vocab:
        with open(a.vocab) as f:
            vocab = f.read().splitlines()
        a.vocab_size = len(vocab)
    config = BertConfig(
        vocab_size=a.vocab_size, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
        intermediate_size=a.intermediate, max_position_embeddings=a.max_positions, type_vocab_size=a.type_vocab_size,
        num_labels=a.num_labels,
    )
    torch.manual_seed(a.seed)
    model = CLASSES[a.parts](config)
    config.architectures = [type(model).__name__]
    # Perturb every parameter so each one matters: matrices + N(0, 0.2), LayerNorm weights 1 + N(0, 0.1),
    # every other vector (biases, LayerNorm biases) N(0, 0.1). Tied tensors appear once in named_parameters.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.add_(torch.randn_like(p) * 0.2)
            elif name.endswith('LayerNorm.weight'):
                p.copy_(1 + torch.randn_like(p) * 0.1)
            else:
                p.copy_(torch.randn_like(p) * 0.1)
    model.to(DTYPES[a.dtype])
    os.makedirs(a.out, exist_ok=True)
    if a.layout == 'bin':
        config.save_pretrained(a.out)
        state_dict = model.state_dict()
        if a.views:
            state_dict = as_views(state_dict)
        if a.legacy_names:
            state_dict = {legacy_name(n): t for n, t in state_dict.items()}
        save_bin(state_dict, a.out, a.max_shard_size)
    else:
        if a.legacy_names or a.views:
            raise SystemExit('--legacy-names and --views need --layout bin')
        kwargs = {}
        if 'safe_serialization' in inspect.signature(model.save_pretrained).parameters:
            kwargs['safe_serialization'] = True  # transformers 4; 5 writes only safetensors
        model.save_pretrained(a.out, max_shard_size=a.max_shard_size, **kwargs)
    with open(os.path.join(a.out, 'vocab.txt'), 'w') as f:
        for i in range(a.vocab_size) if vocab is None else []:
            f.write((SPECIAL_TOKENS[i] if i < len(SPECIAL_TOKENS) else 'tok%d' % i) + '\n')
        f.writelines(t + '\n' for t in vocab or [])
    print('wrote %s (%s, %d tensors)' % (a.out, type(model).__name__, len(list(model.named_parameters()))), file=sys.stderr)


# ---------------------------------------------------------------------------------------------- malicious

class RunsCommand:
    """Unpickling this calls os.system(command) (the attack a restricted unpickler must refuse)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def cmd_malicious(a):
    config = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                        architectures=['BertForMaskedLM'])
    os.makedirs(a.out, exist_ok=True)
    config.save_pretrained(a.out)
    torch.manual_seed(0)
    state_dict = BertForMaskedLM(config).state_dict()
    state_dict['bert.embeddings.word_embeddings.weight'] = RunsCommand('touch %s' % a.marker)
    torch.save(state_dict, os.path.join(a.out, 'pytorch_model.bin'))
    print('wrote %s' % a.out, file=sys.stderr)


# ---------------------------------------------------------------------------------------------- forward

def cmd_forward(a):
    model, problems = load(a.model, a.attn)
    input_ids = ids(a.input_ids)
    token_type_ids = ids(a.token_type_ids) if a.token_type_ids else [0] * len(input_ids)
    attention_mask = ids(a.attention_mask) if a.attention_mask else [1] * len(input_ids)
    if not (len(input_ids) == len(token_type_ids) == len(attention_mask)):
        raise SystemExit('--input-ids, --token-type-ids and --attention-mask differ in length')
    inputs = {
        'input_ids': tensor2d([input_ids]),
        'token_type_ids': tensor2d([token_type_ids]),
        'attention_mask': tensor2d([attention_mask]),
    }
    out = {'input_ids': input_ids, 'token_type_ids': token_type_ids, 'attention_mask': attention_mask}
    with torch.no_grad():
        base = model if isinstance(model, BertModel) else model.bert
        b = base(**inputs)
        out['last_hidden_state'] = b.last_hidden_state[0].tolist()
        if b.pooler_output is not None:
            out['pooled_output'] = b.pooler_output[0].tolist()
        if not isinstance(model, BertModel):
            full = model(**inputs)
            key = 'logits' if isinstance(model, BertForSequenceClassification) else 'mlm_logits'
            if isinstance(model, transformers.BertForPreTraining):
                out['mlm_logits'] = full.prediction_logits[0].tolist()
            else:
                out[key] = full.logits[0].tolist()
    out['architecture'] = type(model).__name__
    out['loading_problems'] = problems
    out['versions'] = versions()
    write_json(a.output, out)
    print('wrote %s' % a.output, file=sys.stderr)


# ---------------------------------------------------------------------------------------------- names

def cmd_names(a):
    with open(a.config) as f:
        raw = json.load(f)
    if a.num_labels is not None:
        raw['num_labels'] = a.num_labels
    config = BertConfig(**raw)
    with torch.device('meta'):
        model = CLASSES[a.parts](config)
    out = {
        'architecture': type(model).__name__,
        'parameters': [[n, list(p.shape)] for n, p in model.named_parameters()],
        'dropouts': [n for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)],
        'versions': versions(),
    }
    if a.output:
        write_json(a.output, out)
    else:
        print(json.dumps(out))


# ---------------------------------------------------------------------------------------------- gradients

def mlm_loss(model, example):
    """Hugging Face's own masked-LM loss (mean cross-entropy over labels != -100)."""
    input_ids = tensor2d(example['input_ids'])
    kwargs = {'input_ids': input_ids, 'labels': tensor2d(example['labels'])}
    if example.get('token_type_ids') is not None:
        kwargs['token_type_ids'] = tensor2d(example['token_type_ids'])
    if example.get('attention_mask') is not None:
        kwargs['attention_mask'] = tensor2d(example['attention_mask'])
    out = model(**kwargs)
    if out.loss is None:
        raise SystemExit('%s computed no loss' % type(model).__name__)
    return out.loss


def require_mlm(model):
    if not isinstance(model, (BertForMaskedLM, transformers.BertForPreTraining)):
        raise SystemExit('%s has no masked-LM head' % type(model).__name__)


def cmd_grads(a):
    model, problems = load(a.model, a.attn)
    require_mlm(model)
    with open(a.inputs) as f:
        example = json.load(f)
    if a.labels:
        example['labels'] = json.loads(a.labels) if a.labels.lstrip().startswith('[') else json.load(open(a.labels))
    if 'labels' not in example:
        raise SystemExit('no labels: give --labels or a "labels" field in --inputs')
    model.zero_grad(set_to_none=True)
    loss = mlm_loss(model, example)
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = {'shape': list(p.shape), 'data': g.reshape(-1).tolist()}
    write_json(a.output, {'loss': loss.item(), 'grads': grads, 'loading_problems': problems, 'versions': versions()})
    print('wrote %s (loss %.6f, %d tensors)' % (a.output, loss.item(), len(grads)), file=sys.stderr)


def cmd_per_sample_fisher(a):
    from safetensors.torch import save_file
    model, problems = load(a.model, a.attn, a.as_class)
    if problems and not a.as_class:
        print('warning: loading %s: %s' % (a.model, problems), file=sys.stderr)
    require_mlm(model)
    params = list(model.named_parameters())
    total = {n: torch.zeros_like(p) for n, p in params}
    count = 0
    with open(a.examples) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            ex = json.loads(line)
            row = {k: [ex[k]] for k in ('input_ids', 'token_type_ids', 'attention_mask', 'labels') if ex.get(k) is not None}
            if 'labels' not in row:
                raise SystemExit('%s:%d: no labels' % (a.examples, line_no))
            model.zero_grad(set_to_none=True)
            mlm_loss(model, row).backward()
            for n, p in params:
                if p.grad is not None:
                    total[n] += p.grad * p.grad
            count += 1
    if count == 0:
        raise SystemExit('%s: no examples' % a.examples)
    tensors = {n: (t / count).to(torch.float32).contiguous() for n, t in total.items()}
    tmp = a.output + '.tmp'
    save_file(tensors, tmp, metadata={'format': 'pt', 'examples': str(count), 'kind': 'empirical Fisher diagonal (mean squared per-sample MLM loss gradient)', 'transformers': transformers.__version__, 'torch': torch.__version__})
    os.replace(tmp, a.output)
    print('wrote %s (%d examples, %d tensors)' % (a.output, count, len(tensors)), file=sys.stderr)


# ---------------------------------------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)

    m = sub.add_parser('make-checkpoint', help='write a perturbed random transformers BERT folder')
    m.add_argument('--out', required=True)
    m.add_argument('--seed', type=int, default=0)
    m.add_argument('--parts', choices=sorted(CLASSES), default='mlm')
    m.add_argument('--num-labels', type=int, default=2)
    m.add_argument('--vocab-size', type=int, default=60)
    m.add_argument('--vocab', help='a vocab.txt to copy (sets the vocabulary size)')
    m.add_argument('--hidden', type=int, default=32)
    m.add_argument('--layers', type=int, default=2)
    m.add_argument('--heads', type=int, default=4)
    m.add_argument('--intermediate', type=int, default=64)
    m.add_argument('--max-positions', type=int, default=32)
    m.add_argument('--type-vocab-size', type=int, default=2)
    m.add_argument('--layout', choices=['safetensors', 'bin'], default='safetensors')
    m.add_argument('--max-shard-size', default='50GB', help='shard above this size, e.g. 200KB')
    m.add_argument('--dtype', choices=sorted(DTYPES), default='float32')
    m.add_argument('--legacy-names', action='store_true', help='LayerNorm gamma/beta names (with --layout bin)')
    m.add_argument('--views', action='store_true', help='store non-contiguous and offset views (with --layout bin)')
    m.set_defaults(fn=cmd_make_checkpoint)

    x = sub.add_parser('malicious', help='a folder whose pytorch_model.bin runs a shell command when unpickled')
    x.add_argument('--out', required=True)
    x.add_argument('--marker', required=True, help='the file the command creates')
    x.set_defaults(fn=cmd_malicious)

    attn_help = 'attention implementation (eager is modeling_bert.py\'s plain softmax path)'
    f = sub.add_parser('forward', help='float64 eval forward pass of one sequence, as JSON')
    f.add_argument('--model', required=True)
    f.add_argument('--input-ids', required=True)
    f.add_argument('--token-type-ids')
    f.add_argument('--attention-mask')
    f.add_argument('--output', required=True)
    f.add_argument('--attn', default='eager', help=attn_help)
    f.set_defaults(fn=cmd_forward)

    n = sub.add_parser('names', help='named_parameters and Dropout module names, as JSON on stdout')
    n.add_argument('--parts', choices=sorted(CLASSES), default='mlm')
    n.add_argument('--config', required=True, help='a config.json / bert_config.json')
    n.add_argument('--num-labels', type=int)
    n.add_argument('--output', help='JSON file to write (default: stdout)')
    n.set_defaults(fn=cmd_names)

    g = sub.add_parser('grads', help='float64 masked-LM loss gradients per parameter, as JSON')
    g.add_argument('--model', required=True)
    g.add_argument('--inputs', required=True, help='JSON {input_ids: [[..]], token_type_ids?, attention_mask?, labels?}')
    g.add_argument('--labels', help='JSON [[..]] (inline or a file) of label ids, -100 = ignored; default: inputs.labels')
    g.add_argument('--output', required=True)
    g.add_argument('--attn', default='eager', help=attn_help)
    g.set_defaults(fn=cmd_grads)

    s = sub.add_parser('per-sample-fisher', help='mean squared per-example MLM gradient, float32 safetensors')
    s.add_argument('--model', required=True)
    s.add_argument('--examples', required=True, help='JSON lines {input_ids, token_type_ids?, attention_mask?, labels}')
    s.add_argument('--output', required=True)
    s.add_argument('--as-class', help='load the folder as this transformers class (e.g. BertForMaskedLM), dropping what it lacks')
    s.add_argument('--attn', default='eager', help=attn_help)
    s.set_defaults(fn=cmd_per_sample_fisher)

    b = sub.add_parser('batch', help='run several subcommands in this one process')
    b.add_argument('--jobs', required=True, help='JSON file (- for stdin): an array of argument lists')
    b.set_defaults(fn=None)

    a = p.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:
        pass
    if a.cmd != 'batch':
        a.fn(a)
        return
    jobs = json.load(sys.stdin if a.jobs == '-' else open(a.jobs))
    for job in jobs:
        if not job or job[0] == 'batch':
            raise SystemExit('batch: bad job %r' % (job,))
        ja = p.parse_args([str(x) for x in job])
        ja.fn(ja)


if __name__ == '__main__':
    main()
