// mp4box.js 2.4.1 (npm package "mp4box" 2.4.1, https://github.com/gpac/mp4box.js), vendored unchanged
// but for the import paths (dist/rolldown-runtime-w6R9maHv.mjs). BSD-3-Clause licence: see mp4box-LICENSE.txt beside
// this file. Copyright (c) 2012 Telecom ParisTech/TSI/MM/GPAC Cyril Concolato.
//#region \0rolldown/runtime.js
var __defProp = Object.defineProperty;
var __exportAll = (all, no_symbols) => {
	let target = {};
	for (var name in all) {
		__defProp(target, name, {
			get: all[name],
			enumerable: true
		});
	}
	if (!no_symbols) {
		__defProp(target, Symbol.toStringTag, { value: "Module" });
	}
	return target;
};

//#endregion
export { __exportAll as t };