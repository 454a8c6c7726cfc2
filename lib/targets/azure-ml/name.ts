/** The Azure ML target's name: in its factory, its errors and `targetName` (the one definition). */
export const TARGET = 'azureMl';
