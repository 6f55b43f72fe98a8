-- 0004: a number that moves whenever a vault entry or an auth client changes, read by
-- connections.Store SecretsVersion: a Manager keeps the vault and clients it decrypted until
-- the number moves, in this process or any other sharing the file. Triggers bump it in the
-- transaction of the change itself, so no write path can forget it.
INSERT INTO meta (name, value) VALUES ('secrets_version', '0');

CREATE TRIGGER vault_insert_version AFTER INSERT ON vault BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
CREATE TRIGGER vault_update_version AFTER UPDATE ON vault BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
CREATE TRIGGER vault_delete_version AFTER DELETE ON vault BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
CREATE TRIGGER clients_insert_version AFTER INSERT ON clients BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
CREATE TRIGGER clients_update_version AFTER UPDATE ON clients BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
CREATE TRIGGER clients_delete_version AFTER DELETE ON clients BEGIN
	UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'secrets_version';
END;
