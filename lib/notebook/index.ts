/** Notebook helpers: plots, tables, display bundles, JupyterLab and headless runs. */
export * from './display';
export * from './jupyter-env';
export * from './lab';
export * from './plot';
export * from './run';
export * from './table';
