// A download in the browser: a plain link lets the browser stream it to disk with its own
// progress bar; fetch() would hold the whole file in memory.
const link = document.createElement("a");
link.href = "/download/sample.bin";
link.download = "sample.bin";
link.textContent = "Download sample.bin";
document.body.append(link);
