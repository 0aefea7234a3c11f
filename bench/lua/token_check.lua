-- The Lua peer: token auth as one would write it with Debian's
-- libnginx-mod-http-lua, the best in-process alternative to the module.
-- It hashes the token with SHA-256 (lua-nginx-string's nginx.sha256, the
-- Debian name of lua-resty-string's resty.sha256: OpenSSL through LuaJIT's
-- FFI; lua-nginx-module itself only has ngx.sha1_bin and ngx.md5_bin) and
-- looks the digest up in a Lua table of valid tokens' digests.
--
-- It checks less than the module: no checksum, expiry, revocation, owner
-- state or permission. That only flatters the peer.

local sha256 = require "nginx.sha256"

local _M = {}

local digests = {}   -- SHA-256 digest (32 raw bytes) -> owner
local hasher         -- one context per worker, reset for every request

-- Called from init_by_lua (the master, before fork): the table is shared
-- copy-on-write by the workers.
function _M.load(path, limit)
  local count = 0
  for line in io.lines(path) do
    local kind, user, token = line:match("^(%S+) (%S+) (%S+)$")
    if kind == "valid" then
      local h = sha256:new()
      h:update(token)
      digests[h:final()] = user
      count = count + 1
      if count >= limit then break end
    end
  end
  if count < limit then
    error(string.format("%s holds %d valid tokens, %d are needed", path, count, limit))
  end
end

local function reject()
  ngx.header["WWW-Authenticate"] = 'Basic realm="bench"'
  return ngx.exit(ngx.HTTP_UNAUTHORIZED)
end

-- access_by_lua: Bearer TOKEN, or Basic USER:TOKEN whose user must own it.
function _M.check()
  local header = ngx.var.http_authorization
  if not header then return reject() end
  local user, token
  if header:sub(1, 7) == "Bearer " then
    token = header:sub(8)
  elseif header:sub(1, 6) == "Basic " then
    local pair = ngx.decode_base64(header:sub(7))
    if pair then user, token = pair:match("^([^:]*):(.*)$") end
  end
  if not token then return reject() end
  if not hasher then hasher = sha256:new() end
  hasher:reset()
  hasher:update(token)
  local owner = digests[hasher:final()]
  if not owner or (user and user ~= owner) then return reject() end
end

return _M
