/** Tables: a danfo.js DataFrame or an array of row objects, as HTML in notebooks and as text elsewhere. */
import { notebookDisplay } from './display';

/** What a table needs from a danfo.js DataFrame (matched structurally, so danfo.js is not loaded here). */
export interface DataFrameLike {
  columns: string[];
  values: unknown[] | unknown[][];
}

/** One row of a table: column name to value. */
export type Row = Record<string, unknown>;

/** How to format a table. */
export interface TableOptions {
  /** Significant digits of non-integer numbers (default 4). */
  digits?: number;
  /** Rows shown before the rest are summarised in one line (default 100). */
  maxRows?: number;
  /** Said instead of a table without rows (default "no rows"). */
  empty?: string;
}

/** A table reduced to column names and cell values. */
interface Grid {
  columns: string[];
  rows: unknown[][];
}

/** Whether the argument looks like a DataFrame rather than an array of rows. */
function isDataFrame(data: DataFrameLike | Row[]): data is DataFrameLike {
  return !Array.isArray(data) && Array.isArray(data.columns) && Array.isArray(data.values);
}

/** Reduces a DataFrame or rows to a grid; rows' columns come in order of first appearance. */
function toGrid(data: DataFrameLike | Row[]): Grid {
  if (isDataFrame(data)) {
    // danfo.js gives a one-column frame's values as a flat array.
    const rows = data.values.map((row) => (Array.isArray(row) ? row : [row]));
    return { columns: data.columns.map(String), rows };
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of data) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  return { columns, rows: data.map((row) => columns.map((c) => row[c])) };
}

/** Formats a number: integers in full, others to `digits` significant digits, exponent notation when very large or small. */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const magnitude = Math.abs(x);
  if (magnitude >= 1e-3 && magnitude < 1e6) return String(Number(x.toPrecision(digits)));
  return x.toExponential(digits - 1).replace(/\.?0+e/, 'e');
}

/** Formats one cell's value as text. */
export function formatCell(value: unknown, digits = 4): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value, digits);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Escapes text for use in HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Returns an HTML table of a DataFrame or rows, numbers right-aligned and formatted. */
export function toHtmlTable(data: DataFrameLike | Row[], options: TableOptions = {}): string {
  const { digits = 4, maxRows = 100, empty = 'no rows' } = options;
  const { columns, rows } = toGrid(data);
  if (!rows.length) return `<p>${escapeHtml(empty)}</p>`;
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.slice(0, maxRows).map((row) => {
    const cells = row.map((v) => {
      const align = typeof v === 'number' || typeof v === 'bigint' ? ' style="text-align:right"' : '';
      return `<td${align}>${escapeHtml(formatCell(v, digits))}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  if (rows.length > maxRows)
    body.push(`<tr><td colspan="${columns.length}">… ${rows.length - maxRows} more rows</td></tr>`);
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

/** Shows a DataFrame or rows: an HTML table in a notebook, a console table elsewhere. */
export function showTable(data: DataFrameLike | Row[], options: TableOptions = {}): void {
  const display = notebookDisplay();
  if (display) {
    display.html(toHtmlTable(data, options));
    return;
  }
  const { digits = 4, maxRows = 100, empty = 'no rows' } = options;
  const { columns, rows } = toGrid(data);
  if (!rows.length) {
    console.log(empty);
    return;
  }
  console.table(
    rows.slice(0, maxRows).map((row) => Object.fromEntries(columns.map((c, i) => [c, formatCell(row[i], digits)]))),
  );
  if (rows.length > maxRows) console.log(`… ${rows.length - maxRows} more rows`);
}
