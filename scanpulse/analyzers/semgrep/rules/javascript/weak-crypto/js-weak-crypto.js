const crypto = require("crypto");

function digest(data) {
  // ruleid: js-weak-crypto
  const md5 = crypto.createHash("md5").update(data).digest("hex");
  // ok: js-weak-crypto
  const sha = crypto.createHash("sha256").update(data).digest("hex");
  // ruleid: js-weak-crypto
  const cipher = crypto.createCipheriv("des-cbc", key, iv);
  return [md5, sha, cipher];
}
