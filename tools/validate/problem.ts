/** One thing wrong with the repo: the file (relative to the repo root, forward slashes) and what is wrong with it. */
export interface Problem {
  file: string;
  message: string;
}
