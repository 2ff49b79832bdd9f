-- easgate-push.lua: Dovecot push_notification Lua driver script for easgate.
--
-- Copyright the easgate authors. Licensed under the Apache License 2.0.
--
-- Reports to easgate, at the end of each Dovecot transaction, which folders
-- changed: new mail (LMTP/LDA delivery or IMAP APPEND), flags set or
-- cleared, messages expunged, and folders created, renamed or deleted, by
-- any IMAP client. Each event kind and folder is sent once per transaction,
-- so expunging a thousand messages is one small request.
--
-- Like Dovecot's OX driver, it reports only users whose server METADATA
-- entry /private/vendor/vendor.dovecot/http-notify is set (to any value;
-- Dovecot's documentation uses "user=NAME"), under their Dovecot user name,
-- which easgate maps to its account as it maps a login.
--
-- Dovecot 2.3 configuration (see easgate's README, "Push from Dovecot"):
--
--   mail_attribute_dict = file:%h/dovecot-attributes
--   protocol imap {
--     imap_metadata = yes
--     mail_plugins = $mail_plugins mail_lua notify push_notification push_notification_lua
--   }
--   protocol lmtp {
--     mail_plugins = $mail_plugins mail_lua notify push_notification push_notification_lua
--   }
--   plugin {
--     push_notification_driver = lua:file=/etc/dovecot/easgate-push.lua
--     easgate_push_url = http://127.0.0.1:8081/api/push/dovecot
--     easgate_push_secret = <the content of easgate's --push-secret-file>
--   }
--
-- The request is made within the IMAP command or delivery that caused it,
-- so it is bounded tightly: an easgate that is down costs an IMAP client
-- at most easgate_push_timeout_msecs (default 2000) per transaction (the
-- request_timeout_msecs of Dovecot 2.3's Lua HTTP client alone does not bound
-- a server that accepts and never answers; the absolute one does). A
-- notification that fails is logged as a warning and not retried.

local notify_entry = "/private/vendor/vendor.dovecot/http-notify"

local function json_string(s)
	s = tostring(s or "")
	s = s:gsub('[%c"\\]', function(c)
		if c == '"' then return '\\"' end
		if c == "\\" then return "\\\\" end
		return string.format("\\u%04x", c:byte())
	end)
	return '"' .. s .. '"'
end

function dovecot_lua_notify_begin_txn(user)
	-- The entry is only a switch, as for the OX driver without
	-- user_from_metadata: the user reported is Dovecot's own name for the
	-- account, never a value the user could set to name someone else.
	local who = nil
	if user:metadata_get(notify_entry) ~= nil then
		who = user.username
	end
	return { user = user, who = who, events = {}, seen = {} }
end

local function add(ctx, event)
	if ctx.who == nil then
		return
	end
	local old = event.mailbox_old or ""
	local key = event.name .. "\0" .. (event.mailbox or "") .. "\0" .. old
	if ctx.seen[key] then
		return
	end
	ctx.seen[key] = true
	local e = '{"event":' .. json_string(event.name) .. ',"folder":' .. json_string(event.mailbox)
	if old ~= "" then
		e = e .. ',"old-folder":' .. json_string(old)
	end
	table.insert(ctx.events, e .. "}")
end

-- The driver calls only the functions the script defines.
function dovecot_lua_notify_event_message_new(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_message_append(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_message_expunge(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_flags_set(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_flags_clear(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_mailbox_create(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_mailbox_delete(ctx, event) add(ctx, event) end
function dovecot_lua_notify_event_mailbox_rename(ctx, event) add(ctx, event) end

function dovecot_lua_notify_end_txn(ctx, success)
	if not success or ctx.who == nil or #ctx.events == 0 then
		return
	end
	local url = ctx.user:plugin_getenv("easgate_push_url")
	local secret = ctx.user:plugin_getenv("easgate_push_secret")
	if url == nil or url == "" or secret == nil or secret == "" then
		dovecot.i_error("easgate-push: easgate_push_url and easgate_push_secret must be set")
		return
	end
	local timeout = tonumber(ctx.user:plugin_getenv("easgate_push_timeout_msecs") or "") or 2000
	local body = '{"user":' .. json_string(ctx.who) .. ',"time":' .. string.format("%d", os.time()) ..
		',"events":[' .. table.concat(ctx.events, ",") .. "]}"

	local client = dovecot.http.client({
		request_timeout_msecs = timeout,
		request_absolute_timeout_msecs = timeout,
		max_attempts = 1,
		user_agent = "dovecot easgate-push.lua",
	})
	local request = client:request({ url = url, method = "PUT" })
	request:add_header("Content-Type", "application/json")
	request:add_header("Authorization", "Bearer " .. secret)
	request:set_payload(body)
	local response = request:submit()
	local status = response:status()
	if status < 200 or status > 299 then
		dovecot.i_warning("easgate-push: " .. url .. " answered " .. tostring(status) .. " for " .. ctx.who)
	end
end
