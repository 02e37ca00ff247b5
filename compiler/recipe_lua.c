/* Lua recipes: a sandboxed Lua 5.4 state runs the script; the table it returns becomes the same
 * alto_rnode tree as a YAML file, and functions in it stay callable for per-module decisions.
 *
 * The sandbox: only the base, string, table and math libraries, without anything that reaches
 * files, the process or other code (dofile, loadfile, load, require, io, os, package, debug,
 * string.dump), and without the nondeterministic math.random. Every entry into Lua is a
 * lua_pcall with a traceback handler, under a count hook (instructions) and an allocator with
 * a cap (memory), so a recipe can neither hang nor exhaust the machine nor abort the process.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/recipe_internal.h"

#define ALTO_LUA_HOOK_EVERY 1000 /* instructions between two checks of the budget */
#define ALTO_LUA_MAX_VALUES 100000

struct alto_recipe_lua {
  lua_State *L;
  size_t mem_used, mem_limit;
  uint64_t instructions, instruction_limit;
};

static uint64_t alto_recipe_lua_max_instructions_ = ALTO_RECIPE_LUA_MAX_INSTRUCTIONS;
static size_t alto_recipe_lua_max_memory_ = ALTO_RECIPE_LUA_MAX_MEMORY;

void alto_recipe_lua_set_limits(uint64_t max_instructions, size_t max_memory) {
  alto_recipe_lua_max_instructions_ =
      max_instructions ? max_instructions : ALTO_RECIPE_LUA_MAX_INSTRUCTIONS;
  alto_recipe_lua_max_memory_ = max_memory ? max_memory : ALTO_RECIPE_LUA_MAX_MEMORY;
}

/* lua_Alloc with a cap. Freeing and shrinking always succeed (Lua requires it). */
static void *alto_recipe_lua_alloc_(void *ud, void *ptr, size_t osize, size_t nsize) {
  alto_recipe_lua *s = ud;
  size_t old = ptr ? osize : 0; /* for a new block osize is the object type, not a size */
  if (nsize == 0) {
    free(ptr);
    s->mem_used -= old;
    return NULL;
  }
  if (nsize > old && s->mem_used - old + nsize > s->mem_limit)
    return NULL; /* Lua raises LUA_ERRMEM */
  void *p = realloc(ptr, nsize);
  if (p)
    s->mem_used = s->mem_used - old + nsize;
  return p;
}

static void alto_recipe_lua_hook_(lua_State *L, lua_Debug *ar) {
  void *ud;
  lua_getallocf(L, &ud);
  alto_recipe_lua *s = ud;
  s->instructions += ALTO_LUA_HOOK_EVERY;
  if (s->instructions <= s->instruction_limit)
    return;
  /* luaL_error would not know the position inside a hook: name the running line. */
  lua_getinfo(L, "Sl", ar);
  lua_pushfstring(L,
                  "%s:%d: instruction limit exceeded (%I instructions); a recipe must finish "
                  "quickly",
                  ar->short_src, ar->currentline, (lua_Integer)s->instruction_limit);
  lua_error(L);
}

/* Message handler: the error plus a Lua traceback (luaL_traceback). */
static int alto_recipe_lua_msgh_(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg)
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* ---- the sandbox -------------------------------------------------------------------------- */
static void alto_recipe_lua_remove_(lua_State *L, const char *table, const char *name) {
  if (table)
    lua_getglobal(L, table);
  else
    lua_pushglobaltable(L);
  lua_pushnil(L);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

static void alto_recipe_lua_open_(lua_State *L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  lua_pop(L, 4);
  static const char *const base_out[] = {"dofile",  "loadfile",       "load", "loadstring",
                                         "require", "collectgarbage", "print"};
  for (size_t i = 0; i < sizeof base_out / sizeof *base_out; i++)
    alto_recipe_lua_remove_(L, NULL, base_out[i]);
  alto_recipe_lua_remove_(L, LUA_STRLIBNAME, "dump");
  alto_recipe_lua_remove_(L, LUA_MATHLIBNAME, "random");
  alto_recipe_lua_remove_(L, LUA_MATHLIBNAME, "randomseed");
}

/* ---- Lua value -> alto_rnode (runs inside lua_pcall: nodes are owned as soon as made) ---- */
typedef struct {
  const char *file;
  const char *text;
  size_t len;
  alto_rnode *root;
  alto_status status; /* a conversion error (message recorded) */
  char *syntax_error;
  int n_values;
  int fn_ref;
  const alto_module_query *q;
} alto_recipe_lua_ctx_;

static alto_status alto_recipe_lua_node_(lua_State *L, alto_recipe_lua_ctx_ *c, int idx, int depth,
                                         alto_rnode **slot);

static alto_rnode *alto_recipe_lua_new_(alto_recipe_lua_ctx_ *c, alto_rnode_kind k,
                                        alto_rnode **slot) {
  *slot = alto_rnode_new(k, c->file, 0, 0);
  c->n_values++;
  return *slot;
}

static alto_status alto_recipe_lua_string_(lua_State *L, alto_recipe_lua_ctx_ *c, int idx,
                                           alto_rnode *n) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (memchr(s, 0, len) || !alto_recipe_utf8_ok(s, len)) {
    alto_srcloc loc = {c->file, 0, 0};
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "a string in the returned table is not UTF-8 text or holds a NUL "
                            "byte; valid: text");
  }
  n->text = alto_xstrdup(s);
  return ALTO_OK;
}

/* Classifies a table: 1 = list 1..n, 0 = string-keyed record (or empty), -1 = neither. */
static int alto_recipe_lua_table_kind_(lua_State *L, int idx, lua_Integer *n_out) {
  lua_Integer n = 0, max = 0;
  int strings = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      strings++;
    else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1)
      max = lua_tointeger(L, -1) > max ? lua_tointeger(L, -1) : max;
    else {
      lua_pop(L, 1);
      return -1;
    }
    n++;
  }
  *n_out = n;
  if (strings == n)
    return 0;
  return strings == 0 && max == n ? 1 : -1;
}

static int alto_recipe_lua_cmp_pairs_(const void *a, const void *b) {
  const alto_rnode *const *x = a, *const *y = b;
  return strcmp(x[0]->text, y[0]->text);
}

/* Lua tables have no order: fields are sorted by name so a recipe converts the same each run. */
static void alto_recipe_lua_sort_map_(alto_rnode *map) {
  if (map->n_items > 0) /* qsort(NULL, 0, ...) is undefined */
    qsort(map->items, (size_t)map->n_items / 2, 2 * sizeof *map->items, alto_recipe_lua_cmp_pairs_);
}

static alto_status alto_recipe_lua_table_(lua_State *L, alto_recipe_lua_ctx_ *c, int idx, int depth,
                                          alto_rnode *n) {
  alto_srcloc loc = {c->file, 0, 0};
  lua_Integer count;
  int kind = alto_recipe_lua_table_kind_(L, idx, &count);
  if (kind < 0)
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "a table mixes list entries and named fields (or has keys that are "
                            "neither); valid: a list {a, b} or a record {name = value}");
  if (kind == 1) {
    n->kind = ALTO_RNODE_SEQ;
    for (lua_Integer i = 1; i <= count; i++) {
      lua_geti(L, idx, i);
      alto_rnode_push(n, NULL); /* the slot stays put: children push into their own nodes */
      alto_status s = alto_recipe_lua_node_(L, c, lua_gettop(L), depth + 1, &n->items[i - 1]);
      lua_pop(L, 1);
      ALTO_TRY(s);
    }
    return ALTO_OK;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    alto_rnode_push(n, NULL);
    alto_rnode *key = alto_recipe_lua_new_(c, ALTO_RNODE_STR, &n->items[n->n_items - 1]);
    alto_status s = alto_recipe_lua_string_(L, c, lua_gettop(L) - 1, key);
    if (s == ALTO_OK) {
      alto_rnode_push(n, NULL);
      s = alto_recipe_lua_node_(L, c, lua_gettop(L), depth + 1, &n->items[n->n_items - 1]);
    }
    lua_pop(L, 1);
    if (s != ALTO_OK) {
      lua_pop(L, 1);
      return s;
    }
  }
  alto_recipe_lua_sort_map_(n);
  return ALTO_OK;
}

/* Converts the value at idx into *slot (which the parent already holds, so nothing leaks if
 * Lua raises a memory error half way). */
static alto_status alto_recipe_lua_node_(lua_State *L, alto_recipe_lua_ctx_ *c, int idx, int depth,
                                         alto_rnode **slot) {
  alto_srcloc loc = {c->file, 0, 0};
  if (depth > ALTO_RECIPE_MAX_DEPTH)
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "the returned table nests deeper than %d levels (or contains itself)",
                            ALTO_RECIPE_MAX_DEPTH);
  if (c->n_values >= ALTO_LUA_MAX_VALUES)
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "the returned table has more than %d values; a recipe is small",
                            ALTO_LUA_MAX_VALUES);
  luaL_checkstack(L, 8, "recipe conversion");
  char num[64];
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    alto_recipe_lua_new_(c, ALTO_RNODE_NULL, slot)->text = alto_xstrdup("nil");
    return ALTO_OK;
  case LUA_TBOOLEAN: {
    alto_rnode *n = alto_recipe_lua_new_(c, ALTO_RNODE_BOOL, slot);
    n->b = lua_toboolean(L, idx);
    n->text = alto_xstrdup(n->b ? "true" : "false");
    return ALTO_OK;
  }
  case LUA_TNUMBER: {
    alto_rnode *n;
    if (lua_isinteger(L, idx)) {
      n = alto_recipe_lua_new_(c, ALTO_RNODE_INT, slot);
      n->i = lua_tointeger(L, idx);
      n->f = (double)n->i;
      snprintf(num, sizeof num, "%lld", (long long)n->i);
    } else {
      n = alto_recipe_lua_new_(c, ALTO_RNODE_FLOAT, slot);
      n->f = lua_tonumber(L, idx);
      snprintf(num, sizeof num, "%.14g", n->f);
    }
    n->text = alto_xstrdup(num);
    return ALTO_OK;
  }
  case LUA_TSTRING:
    return alto_recipe_lua_string_(L, c, idx, alto_recipe_lua_new_(c, ALTO_RNODE_STR, slot));
  case LUA_TTABLE:
    return alto_recipe_lua_table_(L, c, idx, depth, alto_recipe_lua_new_(c, ALTO_RNODE_MAP, slot));
  case LUA_TFUNCTION: {
    alto_rnode *n = alto_recipe_lua_new_(c, ALTO_RNODE_FUNC, slot);
    lua_pushvalue(L, idx);
    n->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return ALTO_OK;
  }
  default:
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "the returned table holds a %s value; valid: tables, strings, "
                            "numbers, booleans and functions",
                            luaL_typename(L, idx));
  }
}

/* ---- running ------------------------------------------------------------------------------ */
static int alto_recipe_lua_main_(lua_State *L) {
  alto_recipe_lua_ctx_ *c = lua_touserdata(L, 1);
  alto_recipe_lua_open_(L);
  if (luaL_loadbufferx(L, c->text, c->len, lua_pushfstring(L, "=%s", c->file), "t") != LUA_OK) {
    c->syntax_error = alto_xstrdup(lua_tostring(L, -1));
    return 0;
  }
  lua_call(L, 0, 1);
  if (!lua_istable(L, -1)) {
    alto_srcloc loc = {c->file, 0, 0};
    c->status = alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                                 "the script returned %s; valid: return a table like "
                                 "{ training_stage = { lpt_modifiers = { ... } } }",
                                 luaL_typename(L, -1));
    return 0;
  }
  c->status = alto_recipe_lua_node_(L, c, lua_gettop(L), 1, &c->root);
  return 0;
}

/* pcall of fn(ctx) with the traceback handler and a fresh instruction budget. */
static alto_status alto_recipe_lua_protect_(alto_recipe_lua *s, lua_CFunction fn,
                                            alto_recipe_lua_ctx_ *c) {
  lua_State *L = s->L;
  s->instructions = 0;
  lua_settop(L, 0);
  lua_pushcfunction(L, alto_recipe_lua_msgh_);
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, c);
  int rc = lua_pcall(L, 1, 0, 1);
  alto_srcloc loc = {c->file, 0, 0};
  alto_status st = ALTO_OK;
  if (rc == LUA_ERRMEM)
    st = alto_recipe_fail(ALTO_ERR_INVALID_ARG, &loc,
                          "Lua memory limit exceeded (%zu MiB); valid: a recipe that builds "
                          "small tables",
                          s->mem_limit >> 20);
  else if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    msg = msg ? msg : "(no message)";
    /* Script errors start with "file:line:"; others get the file in front. */
    bool has_file = !strncmp(msg, c->file, strlen(c->file));
    st = alto_error(ALTO_ERR_PARSE, "%s%s%s", has_file ? "" : c->file,
                    has_file ? "" : ": Lua error: ", msg);
  } else if (c->syntax_error)
    st = alto_error(ALTO_ERR_PARSE, "%s (Lua syntax error)", c->syntax_error);
  else
    st = c->status;
  free(c->syntax_error);
  c->syntax_error = NULL;
  lua_settop(L, 0);
  return st;
}

static alto_recipe_lua *alto_recipe_lua_new_state_(void) {
  alto_recipe_lua *s = alto_xcalloc(1, sizeof *s);
  s->mem_limit = alto_recipe_lua_max_memory_;
  s->instruction_limit = alto_recipe_lua_max_instructions_;
  s->L = lua_newstate(alto_recipe_lua_alloc_, s);
  if (!s->L) {
    free(s);
    return NULL;
  }
  lua_sethook(s->L, alto_recipe_lua_hook_, LUA_MASKCOUNT, ALTO_LUA_HOOK_EVERY);
  return s;
}

void alto_recipe_lua_free(alto_recipe_lua *s) {
  if (!s)
    return;
  /* Finalizers (__gc) may run Lua code at close: give them no instruction budget. */
  s->instructions = s->instruction_limit;
  lua_close(s->L);
  free(s);
}

alto_status alto_recipe_lua_run(const char *file, const char *text, size_t len,
                                alto_recipe_lua **out_state, alto_rnode **out_tree) {
  *out_state = NULL;
  *out_tree = NULL;
  alto_recipe_lua *s = alto_recipe_lua_new_state_();
  if (!s)
    return alto_error(ALTO_ERR_NOMEM, "%s: cannot create a Lua state", file);
  alto_recipe_lua_ctx_ c = {.file = file, .text = text, .len = len, .fn_ref = -1};
  alto_status st = alto_recipe_lua_protect_(s, alto_recipe_lua_main_, &c);
  if (st != ALTO_OK) {
    alto_rnode_free(c.root);
    alto_recipe_lua_free(s);
    return st;
  }
  *out_state = s;
  *out_tree = c.root;
  return ALTO_OK;
}

/* ---- per-module calls --------------------------------------------------------------------- */
static void alto_recipe_lua_strings_(lua_State *L, const char *field, const char *const *v, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, field);
}

static int alto_recipe_lua_call_main_(lua_State *L) {
  alto_recipe_lua_ctx_ *c = lua_touserdata(L, 1);
  const alto_module_query *q = c->q;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn_ref);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, q->n_names ? q->names[0] : "");
  lua_setfield(L, -2, "name");
  lua_pushstring(L, q->n_classes ? q->classes[0] : "");
  lua_setfield(L, -2, "class");
  alto_recipe_lua_strings_(L, "names", q->names, q->n_names);
  alto_recipe_lua_strings_(L, "classes", q->classes, q->n_classes);
  lua_pushinteger(L, q->layer);
  lua_setfield(L, -2, "layer");
  lua_pushinteger(L, q->n_layers);
  lua_setfield(L, -2, "n_layers");
  lua_pushinteger(L, (lua_Integer)q->step);
  lua_setfield(L, -2, "step");
  lua_call(L, 1, 1);
  int t = lua_type(L, -1);
  if (t == LUA_TTABLE || t == LUA_TFUNCTION) {
    alto_srcloc loc = {c->file, 0, 0};
    c->status = alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                                 "a field function returned a %s; valid: a string, number, "
                                 "boolean or nil",
                                 luaL_typename(L, -1));
    return 0;
  }
  c->status = alto_recipe_lua_node_(L, c, lua_gettop(L), 1, &c->root);
  return 0;
}

alto_status alto_recipe_lua_call(alto_recipe_lua *s, int fn_ref, const char *file,
                                 const alto_module_query *q, alto_rnode **out) {
  ALTO_ASSERT(s && fn_ref >= 0);
  alto_recipe_lua_ctx_ c = {.file = file, .fn_ref = fn_ref, .q = q};
  alto_status st = alto_recipe_lua_protect_(s, alto_recipe_lua_call_main_, &c);
  if (st != ALTO_OK) {
    alto_rnode_free(c.root);
    *out = NULL;
    return st;
  }
  *out = c.root;
  return ALTO_OK;
}
