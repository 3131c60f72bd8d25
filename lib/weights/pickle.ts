/**
 * A restricted Python unpickler: it builds plain data (numbers, strings, lists, tuples as arrays, dicts as Maps) and
 * calls only the globals its caller allows; any other global is refused the moment its opcode is read, before
 * anything else is evaluated. It never runs Python code. Written by hand (docs/models.md says why): a state dict
 * needs about 40 opcodes of protocol 2, and only an opcode allow-list keeps every other one out; pickleparser, the
 * npm reader that can refuse names (through a custom NameRegistry), accepts every opcode of protocols 0 to 5.
 */

/** What a pickle's GLOBAL opcode may name: a function REDUCE calls, or a plain value (such as a storage type). */
export type PickleGlobal = ((args: unknown[]) => unknown) | { value: unknown };

export interface UnpickleOptions {
  /** The only globals the pickle may name, by "module.name" (e.g. "collections.OrderedDict"). */
  globals: Record<string, PickleGlobal>;
  /** Turns a persistent id (BINPERSID) into a value; without it persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Marks the stack position of a MARK opcode. */
const MARK = Symbol('mark');
/** A global resolved by GLOBAL, waiting for REDUCE. */
class Callable {
  constructor(
    readonly name: string,
    readonly fn: (args: unknown[]) => unknown,
  ) {}
}

/** Evaluates a pickle (protocol 2 or lower) with only the allowed globals; `source` names the file in errors. */
export function unpickle(bytes: Uint8Array, source: string, options: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message} (pickle byte ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) fail(`truncated pickle: ${n} more bytes needed`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated pickle: a line without its newline');
    const text = new TextDecoder().decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const pop = () => (stack.length === 0 ? fail('stack underflow') : stack.pop());
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('no MARK on the stack');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const top = () => (stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1]);
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM(S) on something other than a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) fail('APPEND(S) on something other than a list');
    (target as unknown[]).push(...items);
  };
  const integer = (n: number) => (Number.isSafeInteger(n) ? n : fail(`integer ${n} is too large`));
  const long = (raw: Uint8Array) => {
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
    if (raw.length > 0 && raw[raw.length - 1] & 0x80) value -= 1n << BigInt(8 * raw.length);
    const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(value) : fail(`integer ${value} is too large`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const protocol = u8();
        if (protocol > 2) fail(`pickle protocol ${protocol}: only protocols 0 to 2 are read (torch.save writes 2)`);
        break;
      }
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x63: {
        // GLOBAL
        const name = `${line()}.${line()}`;
        const allowed = Object.prototype.hasOwnProperty.call(options.globals, name) ? options.globals[name] : undefined;
        if (allowed === undefined) {
          const allowedNames = Object.keys(options.globals).join(', ');
          fail(`refused the global ${name}: only ${allowedNames} may appear in this file, and nothing was run`);
        }
        stack.push(typeof allowed === 'function' ? new Callable(name, allowed) : allowed!.value);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Callable)) fail('REDUCE on something that is not an allowed function');
        if (!Array.isArray(args)) fail(`REDUCE of ${(fn as Callable).name} without an argument tuple`);
        try {
          stack.push((fn as Callable).fn(args as unknown[]));
        } catch (e) {
          fail(`${(fn as Callable).name}: ${(e as Error).message}`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('a persistent id, which this file may not hold');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x62: {
        // BUILD: only an OrderedDict's attributes (a state dict's `_metadata`), which are dropped
        pop();
        if (!(top() instanceof Map)) fail('BUILD on something other than a dict');
        break;
      }
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      } // DICT
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x61: {
        const v = pop();
        append(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} was never stored`);
        stack.push(memo.get(key));
        break;
      }
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break; // BININT
      case 0x8a:
        stack.push(long(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(long(take(integer(u32()))));
        break; // LONG4
      case 0x47:
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break; // BINFLOAT
      case 0x58:
        stack.push(new TextDecoder('utf-8', { fatal: true }).decode(take(u32())));
        break; // BINUNICODE
      case 0x55:
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(new TextDecoder('latin1').decode(take(u32())));
        break; // BINSTRING
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not one a state dict needs; refused`);
    }
  }
}
