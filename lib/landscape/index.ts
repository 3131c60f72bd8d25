/** Loss landscapes (Figure 1): filter-normalized directions, Fisher masks, surfaces, files and plots. */
export * from './descriptors';
export * from './directions';
export * from './figure1';
export * from './masks';
export * from './plots';
export * from './run';
export * from './surface';
export * from './surface-file';
export * from './surface-hdf5';
export * from './surface3d';
export * from './tables';
