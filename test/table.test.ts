import { expect } from 'chai';
import * as dfd from 'danfojs';
import { escapeHtml, formatCell, formatNumber, showTable, toHtmlTable } from '../lib/notebook/table';

/** The cells of each body row of an HTML table, as raw HTML strings. */
function bodyCells(html: string): string[][] {
  const body = /<tbody>([\s\S]*)<\/tbody>/.exec(html)![1];
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) =>
    [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]),
  );
}

/** The header cells of an HTML table. */
function headCells(html: string): string[] {
  return [...html.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1]);
}

describe('table', () => {
  describe('formatNumber', () => {
    it('keeps integers, rounds others to significant digits, uses exponents at the extremes', () => {
      expect(formatNumber(42)).to.equal('42');
      expect(formatNumber(-7)).to.equal('-7');
      expect(formatNumber(0.123456)).to.equal('0.1235');
      expect(formatNumber(2.5)).to.equal('2.5');
      expect(formatNumber(1234.5678)).to.equal('1235');
      expect(formatNumber(3.14159, 2)).to.equal('3.1');
      expect(formatNumber(0.000012346)).to.equal('1.235e-5');
      expect(formatNumber(2e-7)).to.equal('2e-7');
      expect(formatNumber(12345678.9)).to.equal('1.235e+7');
      expect(formatNumber(NaN)).to.equal('NaN');
      expect(formatNumber(-Infinity)).to.equal('-Infinity');
    });
  });

  describe('formatCell', () => {
    it('formats empty, boolean, object and string values', () => {
      expect(formatCell(null)).to.equal('');
      expect(formatCell(undefined)).to.equal('');
      expect(formatCell(true)).to.equal('true');
      expect(formatCell([1, 2])).to.equal('[1,2]');
      expect(formatCell('text')).to.equal('text');
    });
  });

  describe('escapeHtml', () => {
    it('escapes the five special characters', () => {
      expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    });
  });

  describe('toHtmlTable', () => {
    it('lays out rows with columns in order of first appearance, escaped and formatted', () => {
      const html = toHtmlTable([
        { model: '<b>tiny</b>', loss: 2.345678, steps: 100 },
        { model: 'small & fast', steps: 200, accuracy: 0.91234 },
      ]);
      expect(headCells(html)).to.deep.equal(['model', 'loss', 'steps', 'accuracy']);
      expect(bodyCells(html)).to.deep.equal([
        ['&lt;b&gt;tiny&lt;/b&gt;', '2.346', '100', ''],
        ['small &amp; fast', '', '200', '0.9123'],
      ]);
      expect(html).to.include('<td style="text-align:right">2.346</td>');
      expect(html).to.include('<td>&lt;b&gt;tiny&lt;/b&gt;</td>');
    });

    it('takes a danfo.js DataFrame, including one with a single column', () => {
      const df = new dfd.DataFrame({ task: ['sst2', 'rte'], score: [0.912345, 0.6] });
      const html = toHtmlTable(df, { digits: 3 });
      expect(headCells(html)).to.deep.equal(['task', 'score']);
      expect(bodyCells(html)).to.deep.equal([
        ['sst2', '0.912'],
        ['rte', '0.6'],
      ]);
      const single = df.loc({ columns: ['score'] });
      expect(bodyCells(toHtmlTable(single))).to.deep.equal([['0.9123'], ['0.6']]);
    });

    it('shows at most maxRows rows and says how many more there are', () => {
      const rows = Array.from({ length: 5 }, (_, i) => ({ i }));
      const cells = bodyCells(toHtmlTable(rows, { maxRows: 2 }));
      expect(cells).to.deep.equal([['0'], ['1'], ['… 3 more rows']]);
    });

    it('says so instead of an empty table', () => {
      expect(toHtmlTable([])).to.equal('<p>no rows</p>');
      expect(toHtmlTable([], { empty: 'no task has <two> sizes' })).to.equal('<p>no task has &lt;two&gt; sizes</p>');
    });
  });

  describe('showTable (outside a notebook)', () => {
    it('prints a console table of the formatted cells', () => {
      const logged: unknown[] = [];
      const original = console.table;
      console.table = (data: unknown) => void logged.push(data);
      try {
        showTable([{ a: 1.23456, b: 'x' }]);
      } finally {
        console.table = original;
      }
      expect(logged).to.deep.equal([[{ a: '1.235', b: 'x' }]]);
    });

    it('logs the empty message instead of an empty table', () => {
      const [logged, tables]: unknown[][] = [[], []];
      const [log, table] = [console.log, console.table];
      console.log = (line: unknown) => void logged.push(line);
      console.table = (data: unknown) => void tables.push(data);
      try {
        showTable([], { empty: 'nothing yet' });
      } finally {
        [console.log, console.table] = [log, table];
      }
      expect([logged, tables]).to.deep.equal([['nothing yet'], []]);
    });
  });
});
