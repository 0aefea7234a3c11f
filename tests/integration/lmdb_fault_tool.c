/* lmdb_fault_tool: puts an nginx-pat store into the states the fault tests
 * need, through LMDB's C API (the tests compile it with gcc -llmdb). It is a
 * test tool: it writes raw records the product never would.
 *
 *   fill PATH              writes filler records into a table of its own
 *                          ("fault_filler") until the map is full; prints
 *                          the bytes written
 *   drop PATH              deletes that table again (frees the space)
 *   grow PATH MIB BYTES    reopens with a map of MIB MiB and writes BYTES of
 *                          filler: the map grown by a writer while workers
 *                          read (they then see MDB_MAP_RESIZED)
 *   corrupt PATH TOKEN_ID  overwrites the token's record with garbage
 *   hold-readers PATH      takes every free reader slot, prints how many,
 *                          and holds them until stdin closes
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILLER "fault_filler"

static void die(const char *what, int rc) {
    fprintf(stderr, "lmdb_fault_tool: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}

static MDB_env *open_env(const char *path, size_t map_size, unsigned max_readers) {
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) die("create", rc);
    mdb_env_set_maxdbs(env, 32);
    if (map_size) mdb_env_set_mapsize(env, map_size);
    if (max_readers) mdb_env_set_maxreaders(env, max_readers);
    rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0640);
    if (rc) die("open", rc);
    return env;
}

/* One transaction of COUNT records of SIZE bytes; the LMDB code of its commit. */
static int put_filler(MDB_env *env, size_t *next_key, size_t size, size_t count) {
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc) return rc;
    rc = mdb_dbi_open(txn, FILLER, MDB_CREATE, &dbi);
    char *value = malloc(size);
    memset(value, 'f', size);
    for (size_t i = 0; rc == 0 && i < count; ++i) {
        char key[32];
        snprintf(key, sizeof key, "%020zu", (*next_key)++);
        MDB_val k = {strlen(key), key}, v = {size, value};
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    free(value);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static size_t fill(MDB_env *env, size_t budget) {
    size_t written = 0, key = 0;
    /* Big records first, then smaller ones into what is left. */
    for (size_t size = 64 * 1024; size >= 64; size /= 2) {
        while (budget == 0 || written < budget) {
            int rc = put_filler(env, &key, size, 1);
            if (rc == MDB_MAP_FULL) break;
            if (rc) die("fill", rc);
            written += size;
        }
        if (budget && written >= budget) break;
    }
    return written;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: lmdb_fault_tool fill|drop|grow|corrupt|hold-readers PATH [ARGS]\n");
        return 2;
    }
    const char *cmd = argv[1], *path = argv[2];
    if (strcmp(cmd, "fill") == 0) {
        MDB_env *env = open_env(path, 0, 0);
        printf("%zu\n", fill(env, 0));
        mdb_env_close(env);
    } else if (strcmp(cmd, "drop") == 0) {
        MDB_env *env = open_env(path, 0, 0);
        MDB_txn *txn;
        MDB_dbi dbi;
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (!rc) rc = mdb_dbi_open(txn, FILLER, 0, &dbi);
        if (!rc) rc = mdb_drop(txn, dbi, 1);
        if (!rc) rc = mdb_txn_commit(txn);
        if (rc) die("drop", rc);
        mdb_env_close(env);
    } else if (strcmp(cmd, "grow") == 0 && argc == 5) {
        MDB_env *env = open_env(path, (size_t)strtoull(argv[3], NULL, 10) << 20, 0);
        printf("%zu\n", fill(env, (size_t)strtoull(argv[4], NULL, 10)));
        mdb_env_close(env);
    } else if (strcmp(cmd, "corrupt") == 0 && argc == 4) {
        MDB_env *env = open_env(path, 0, 0);
        MDB_txn *txn;
        MDB_dbi ids, tokens;
        MDB_val id = {strlen(argv[3]), argv[3]}, digest;
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (!rc) rc = mdb_dbi_open(txn, "token_ids", 0, &ids);
        if (!rc) rc = mdb_dbi_open(txn, "tokens", 0, &tokens);
        if (!rc) rc = mdb_get(txn, ids, &id, &digest);
        if (rc) die("find the token", rc);
        char key[64];
        if (digest.mv_size > sizeof key) die("digest size", MDB_CORRUPTED);
        memcpy(key, digest.mv_data, digest.mv_size);
        MDB_val k = {digest.mv_size, key};
        char garbage[] = "\x07\xff garbage where a token record should be \x00\x01";
        MDB_val v = {sizeof garbage - 1, garbage};
        rc = mdb_put(txn, tokens, &k, &v, 0);
        if (!rc) rc = mdb_txn_commit(txn);
        if (rc) die("corrupt", rc);
        mdb_env_close(env);
    } else if (strcmp(cmd, "hold-readers") == 0) {
        MDB_env *env = open_env(path, 0, 0);
        MDB_txn *txn;
        int held = 0, rc;
        while ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) ++held;
        if (rc != MDB_READERS_FULL) die("take a reader slot", rc);
        printf("%d\n", held);
        fflush(stdout);
        while (getchar() != EOF) {
        }
        mdb_env_close(env); /* releases every slot */
    } else {
        fprintf(stderr, "lmdb_fault_tool: unknown command or wrong arguments\n");
        return 2;
    }
    return 0;
}
