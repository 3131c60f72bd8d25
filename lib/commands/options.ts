/** Parsers of command-line option values shared by the commands; errors name the flag. */

/** Parses a finite number. */
export function number(value: string, flag: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new Error(`${flag}: "${value}" is not a number`);
  return v;
}

/** Parses a positive integer. */
export function positiveInt(value: string, flag: string): number {
  const v = number(value, flag);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: expected a positive integer (got "${value}")`);
  return v;
}
