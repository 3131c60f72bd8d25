/** JSON-lines files: one JSON object per non-blank line, read with errors that name the file and line. */
import * as fs from 'fs';

/** One object of a JSON-lines file and where it stands ("FILE:LINE", 1-based). */
export interface JsonlRow {
  value: Record<string, unknown>;
  where: string;
}

/** The objects of a JSON-lines file (blank lines skipped, a leading BOM ignored); a line that is not JSON, or not `expected`, fails naming FILE:LINE. */
export function readJsonl(file: string, expected = 'a JSON object'): JsonlRow[] {
  const rows: JsonlRow[] = [];
  fs.readFileSync(file, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${file}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error(`${where}: expected ${expected}`);
      rows.push({ value: value as Record<string, unknown>, where });
    });
  return rows;
}
