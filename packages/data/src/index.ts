// Public API of @fairseq-ts/data. Each area lives in its own folder; export it here explicitly.
export {};
