export { compile, OUTPUT_FILES } from './compile.js';
export type { CompileOptions, CompileResult, CompileStats } from './compile.js';
export { ModelError } from './model/errors.js';
export type { Issue } from './model/errors.js';
export { parseModel } from './model/parse.js';
export type * from './model/types.js';
export type * from './plan/ir.js';
