export { COMMAND_SPECS, MISSING_COMMANDS, buildProgram, flagTableOf, main, parseCommand } from "./main.js";
export { ConfigFileError, expandConfigFile, parseConfigText } from "./config-file.js";
export { commonOptions, distributedOptions, type CommonOptions, type DistributedOptions } from "./options.js";
export { scoreOptions, type ScoreOptions } from "./commands/score.js";
export type { CommandSpec, FlagTable, FlagTarget, GroupUse, ParsedCommand, Selector } from "./spec.js";
