/** Vega-Lite specs of a BERT model's make-up, for notebook 00. Pure functions: notebooks render them with `show`. */
import type { TopLevelSpec } from '../notebook/plot';

/** One bar per component with its parameter count, components in the given order. */
export function parametersPerComponentSpec(
  counts: ReadonlyArray<{ component: string; parameters: number }>,
): TopLevelSpec {
  return {
    title: 'Parameters per component',
    data: { values: counts },
    mark: 'bar',
    encoding: {
      y: { field: 'component', type: 'nominal', sort: null, title: null },
      x: { field: 'parameters', type: 'quantitative', title: 'parameters' },
    },
  } as TopLevelSpec;
}
