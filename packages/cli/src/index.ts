export { buildProgram, main } from "./main.js";
export { ConfigFileError, expandConfigFile, parseConfigText } from "./config-file.js";
