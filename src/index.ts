export { compile, prepare, OUTPUT_FILES } from './compile.js';
export type { Backend, CompileOptions, CompileResult, CompileStats, PreparedModel } from './compile.js';
export { ModelError } from './model/errors.js';
export type { Issue } from './model/errors.js';
export { parseCloud, parseModel, selectHost } from './model/parse.js';
export type { CloudModel } from './model/parse.js';
export type * from './model/types.js';
export type * from './plan/ir.js';
