//! A strict, side-effect-free reader for the pickles `torch.save` writes (`data.pkl`).
//!
//! Python's pickle format is a small stack machine whose `GLOBAL` + `REDUCE` opcodes call
//! arbitrary Python functions. This reader calls nothing: it knows a handful of globals by
//! name (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and
//! `_rebuild_parameter`, the `torch.*Storage` types) and builds plain values for them. Any
//! other global becomes an inert [`Value::Object`] placeholder, which is harmless (it is
//! never called) and lets a checkpoint dict that also pickles, say, an `argparse.Namespace`
//! be read; it is an error only where a tensor is needed. Opcodes outside the set
//! `torch.save` emits (protocol 2, plus the protocol 4 framing opcodes) are refused.
//!
//! Mutable containers are shared (`Rc<RefCell<…>>`) because pickle memoizes them before
//! filling them in; dropping is iterative so that a deeply nested hostile pickle cannot
//! overflow the stack.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The element type of a torch storage, from its class name (`torch.FloatStorage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageType {
    fn from_class(name: &str) -> Option<Self> {
        Some(match name {
            "DoubleStorage" => StorageType::F64,
            "FloatStorage" => StorageType::F32,
            "HalfStorage" => StorageType::F16,
            "BFloat16Storage" => StorageType::BF16,
            "LongStorage" => StorageType::I64,
            "IntStorage" => StorageType::I32,
            "ShortStorage" => StorageType::I16,
            "CharStorage" => StorageType::I8,
            "ByteStorage" => StorageType::U8,
            "BoolStorage" => StorageType::Bool,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            StorageType::F64 | StorageType::I64 => 8,
            StorageType::F32 | StorageType::I32 => 4,
            StorageType::F16 | StorageType::BF16 | StorageType::I16 => 2,
            StorageType::I8 | StorageType::U8 | StorageType::Bool => 1,
        }
    }

    /// PyTorch's name for the dtype, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StorageType::F64 => "float64",
            StorageType::F32 => "float32",
            StorageType::F16 => "float16",
            StorageType::BF16 => "bfloat16",
            StorageType::I64 => "int64",
            StorageType::I32 => "int32",
            StorageType::I16 => "int16",
            StorageType::I8 => "int8",
            StorageType::U8 => "uint8",
            StorageType::Bool => "bool",
        }
    }
}

/// A storage named by a persistent id: its bytes are the archive entry `data/<key>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    pub(crate) dtype: StorageType,
    pub(crate) key: String,
    /// Number of elements, as the pickle declares it.
    pub(crate) numel: u64,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorRef {
    pub(crate) storage: Rc<StorageRef>,
    /// In elements.
    pub(crate) offset: u64,
    pub(crate) shape: Vec<u64>,
    /// In elements.
    pub(crate) stride: Vec<u64>,
}

/// A global the reader knows; nothing is ever looked up or called.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildFromType,
    Storage(StorageType),
    /// Any other `module.name`, kept only as a name.
    Other(Rc<str>),
}

/// A dict in insertion order; string and integer keys are indexed so that a repeated key
/// replaces its value as in Python.
#[derive(Default)]
pub(crate) struct Dict {
    pub(crate) items: Vec<(Value, Value)>,
    index: HashMap<Key, usize>,
}

#[derive(Hash, PartialEq, Eq)]
enum Key {
    Str(Rc<str>),
    Int(i64),
}

impl Dict {
    fn insert(&mut self, k: Value, v: Value) {
        let key = match &k {
            Value::Str(s) => Some(Key::Str(s.clone())),
            Value::Int(i) => Some(Key::Int(*i)),
            _ => None,
        };
        if let Some(key) = key {
            if let Some(&i) = self.index.get(&key) {
                self.items[i].1 = v;
                return;
            }
            self.index.insert(key, self.items.len());
        }
        self.items.push((k, v));
    }

    /// The value under string key `k`.
    pub(crate) fn get_str(&self, k: &str) -> Option<&Value> {
        self.index
            .get(&Key::Str(Rc::from(k)))
            .map(|&i| &self.items[i].1)
    }
}

/// A pickled value.
#[derive(Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Dict>>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    /// An instance of a class this reader does not know (never constructed for real).
    Object(Rc<str>),
}

impl Value {
    /// A short description for messages (never recursive: values may be cyclic).
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::None => "None".to_string(),
            Value::Bool(b) => format!("the bool {}", if *b { "True" } else { "False" }),
            Value::Int(i) => format!("the int {i}"),
            Value::Float(x) => format!("the float {x}"),
            Value::Str(s) => format!("the string {s:?}"),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Tuple(t) => format!("a tuple of {} items", t.len()),
            Value::List(l) => format!("a list of {} items", l.borrow().len()),
            Value::Dict(d) => format!("a dict of {} entries", d.borrow().items.len()),
            Value::Global(g) => format!("the global {g:?}"),
            Value::Storage(_) => "a bare storage".to_string(),
            Value::Tensor(t) => format!("a tensor of dtype {}", t.storage.dtype.name()),
            Value::Object(name) => format!("a pickled `{name}` object"),
        }
    }
}

impl Drop for Value {
    // Dropping a deep nest of containers recursively could overflow the stack; moving the
    // children of uniquely owned containers onto a work list keeps it flat.
    fn drop(&mut self) {
        let mut pending = Vec::new();
        detach_children(self, &mut pending);
        while let Some(mut v) = pending.pop() {
            detach_children(&mut v, &mut pending);
        }
    }
}

fn detach_children(v: &mut Value, out: &mut Vec<Value>) {
    match v {
        Value::Tuple(rc) => {
            if let Some(items) = Rc::get_mut(rc) {
                out.append(items);
            }
        }
        Value::List(rc) => {
            if let Some(cell) = Rc::get_mut(rc) {
                out.append(cell.get_mut());
            }
        }
        Value::Dict(rc) => {
            if let Some(cell) = Rc::get_mut(rc) {
                let d = cell.get_mut();
                d.index.clear();
                for (k, v) in d.items.drain(..) {
                    out.push(k);
                    out.push(v);
                }
            }
        }
        _ => {}
    }
}

/// The most values a pickle may create (pushes, memo entries and marks together); each costs
/// at most about 100 bytes, so memory stays within a few hundred MB. A state dict needs about
/// 50 per tensor.
pub(crate) const MAX_PICKLE_VALUES: u64 = 2_000_000;
/// The most string bytes hashed as dict keys (a long memoized string used as a key over and
/// over would otherwise cost its length every time).
pub(crate) const MAX_HASHED_KEY_BYTES: u64 = 256 << 20;

/// Runs the pickle in `data` and returns the value it builds.
pub(crate) fn unpickle(data: &[u8]) -> Result<Value, String> {
    let mut m = Machine {
        input: data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        values: 0,
        hashed: 0,
    };
    m.run()
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    /// Values created so far, for [`MAX_PICKLE_VALUES`].
    values: u64,
    /// Key bytes hashed so far, for [`MAX_HASHED_KEY_BYTES`].
    hashed: u64,
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Result<Value, String> {
        loop {
            let at = self.pos;
            let op = self.bytes(1)?[0];
            self.step(op)
                .map_err(|e| format!("pickle opcode {} at byte {at}: {e}", op_name(op)))?;
            if self.values > MAX_PICKLE_VALUES {
                return Err(format!(
                    "the pickle builds more than {MAX_PICKLE_VALUES} values (at byte {at}); a \
                     state dict needs about 50 per tensor"
                ));
            }
            if self.hashed > MAX_HASHED_KEY_BYTES {
                return Err(format!(
                    "the pickle's dict keys add up to more than {MAX_HASHED_KEY_BYTES} bytes \
                     (at byte {at})"
                ));
            }
            if op == b'.' {
                return self.pop();
            }
        }
    }

    fn step(&mut self, op: u8) -> Result<(), String> {
        match op {
            // PROTO
            0x80 => {
                let v = self.bytes(1)?[0];
                if !(2..=5).contains(&v) {
                    return Err(format!("protocol {v} is not supported (2 to 5 are)"));
                }
            }
            // FRAME: a length hint only.
            0x95 => {
                self.bytes(8)?;
            }
            b'.' => {}
            b'(' => {
                self.values += 1;
                self.marks.push(self.stack.len());
            }
            b'}' => self.push(Value::Dict(Rc::default())),
            // A set is kept as a list: nothing here needs set semantics.
            b']' | 0x8f => self.push(Value::List(Rc::default())),
            b')' => self.push(Value::Tuple(Rc::default())),
            b't' => {
                let items = self.pop_mark()?;
                self.push(Value::Tuple(Rc::new(items)));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return Err("stack underflow".to_string());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push(Value::Tuple(Rc::new(items)));
            }
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'J' => {
                let b = self.bytes(4)?;
                self.push(Value::Int(i64::from(i32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ]))));
            }
            b'K' => {
                let b = self.bytes(1)?[0];
                self.push(Value::Int(i64::from(b)));
            }
            b'M' => {
                let b = self.bytes(2)?;
                self.push(Value::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))));
            }
            // LONG1: little-endian two's complement of n bytes.
            0x8a => {
                let n = usize::from(self.bytes(1)?[0]);
                let b = self.bytes(n)?;
                if n > 8 {
                    return Err(format!("a {n}-byte integer does not fit in 64 bits"));
                }
                let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                    [0xff; 8]
                } else {
                    [0; 8]
                };
                buf[..n].copy_from_slice(b);
                self.push(Value::Int(i64::from_le_bytes(buf)));
            }
            b'G' => {
                let b = self.bytes(8)?;
                let mut buf = [0; 8];
                buf.copy_from_slice(b);
                self.push(Value::Float(f64::from_be_bytes(buf)));
            }
            b'X' => {
                let n = self.len_u32()?;
                let s = self.string(n)?;
                self.push(s);
            }
            0x8c => {
                let n = usize::from(self.bytes(1)?[0]);
                let s = self.string(n)?;
                self.push(s);
            }
            0x8d => {
                let n = self.len_u64()?;
                let s = self.string(n)?;
                self.push(s);
            }
            b'B' => {
                let n = self.len_u32()?;
                let b = self.bytes(n)?;
                self.push(Value::Bytes(Rc::from(b)));
            }
            b'C' => {
                let n = usize::from(self.bytes(1)?[0]);
                let b = self.bytes(n)?;
                self.push(Value::Bytes(Rc::from(b)));
            }
            0x8e => {
                let n = self.len_u64()?;
                let b = self.bytes(n)?;
                self.push(Value::Bytes(Rc::from(b)));
            }
            b'q' => {
                let i = u64::from(self.bytes(1)?[0]);
                self.put(i)?;
            }
            b'r' => {
                let b = self.bytes(4)?;
                self.put(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))?;
            }
            // MEMOIZE: the next free index.
            0x94 => {
                let i = self.memo.len() as u64;
                self.put(i)?;
            }
            b'h' => {
                let i = u64::from(self.bytes(1)?[0]);
                self.get(i)?;
            }
            b'j' => {
                let b = self.bytes(4)?;
                self.get(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.push(Value::Global(global(&module, &name)));
            }
            // STACK_GLOBAL
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (&module, &name) {
                    (Value::Str(m), Value::Str(n)) => {
                        let g = global(m, n);
                        self.push(Value::Global(g));
                    }
                    _ => return Err("module and name must be strings".to_string()),
                }
            }
            // BINPERSID
            b'Q' => {
                let pid = self.pop()?;
                let storage = persistent_load(&pid)?;
                self.push(Value::Storage(Rc::new(storage)));
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let Value::Tuple(args) = &args else {
                    return Err(format!(
                        "arguments must be a tuple, got {}",
                        args.describe()
                    ));
                };
                let v = call(&callable, args)?;
                self.push(v);
            }
            // NEWOBJ: cls.__new__(cls, *args)
            0x81 => {
                let _args = self.pop()?;
                let cls = self.pop()?;
                let v = match &cls {
                    Value::Global(Global::OrderedDict) => Value::Dict(Rc::default()),
                    Value::Global(Global::Other(name)) => Value::Object(name.clone()),
                    other => return Err(format!("cannot instantiate {}", other.describe())),
                };
                self.push(v);
            }
            b'b' => {
                // The state of an OrderedDict (its `_metadata`) or of an unknown object is of
                // no use here; a tensor never comes with one in a state dict.
                let _state = self.pop()?;
                match self.stack.last() {
                    Some(Value::Dict(_)) | Some(Value::Object(_)) => {}
                    Some(other) => {
                        return Err(format!("cannot set the state of {}", other.describe()))
                    }
                    None => return Err("stack underflow".to_string()),
                }
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.hashed += key_cost(&k);
                self.dict_top()?.borrow_mut().insert(k, v);
            }
            b'u' => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return Err("odd number of items for a dict".to_string());
                }
                let dict = self.dict_top()?;
                let mut d = dict.borrow_mut();
                self.hashed += items.iter().step_by(2).map(key_cost).sum::<u64>();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.insert(k, v);
                }
            }
            b'a' => {
                let v = self.pop()?;
                self.list_top()?.borrow_mut().push(v);
            }
            // APPENDS, ADDITEMS
            b'e' | 0x90 => {
                let mut items = self.pop_mark()?;
                self.list_top()?.borrow_mut().append(&mut items);
            }
            // FROZENSET
            0x91 => {
                let items = self.pop_mark()?;
                self.push(Value::Tuple(Rc::new(items)));
            }
            _ => return Err("is not supported in a torch.save state dict".to_string()),
        }
        Ok(())
    }

    fn push(&mut self, v: Value) {
        self.values += 1;
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("stack underflow (reached a MARK)".to_string());
        }
        self.stack
            .pop()
            .ok_or_else(|| "stack underflow".to_string())
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| "no MARK to collect items from".to_string())?;
        if m > self.stack.len() {
            return Err("MARK beyond the stack".to_string());
        }
        Ok(self.stack.split_off(m))
    }

    fn dict_top(&self) -> Result<Rc<RefCell<Dict>>, String> {
        match self.stack.last() {
            Some(Value::Dict(d)) => Ok(d.clone()),
            Some(other) => Err(format!("expected a dict, got {}", other.describe())),
            None => Err("stack underflow".to_string()),
        }
    }

    fn list_top(&self) -> Result<Rc<RefCell<Vec<Value>>>, String> {
        match self.stack.last() {
            Some(Value::List(l)) => Ok(l.clone()),
            Some(other) => Err(format!("expected a list, got {}", other.describe())),
            None => Err("stack underflow".to_string()),
        }
    }

    fn put(&mut self, i: u64) -> Result<(), String> {
        let top = self
            .stack
            .last()
            .ok_or_else(|| "stack underflow".to_string())?
            .clone();
        self.values += 1;
        self.memo.insert(i, top);
        Ok(())
    }

    fn get(&mut self, i: u64) -> Result<(), String> {
        let v = self
            .memo
            .get(&i)
            .ok_or_else(|| format!("memo entry {i} was never stored"))?
            .clone();
        self.push(v);
        Ok(())
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.input.len())
            .ok_or_else(|| {
                format!(
                    "the pickle is truncated: {n} more bytes needed at byte {}, only {} left",
                    self.pos,
                    self.input.len() - self.pos
                )
            })?;
        let input: &'a [u8] = self.input;
        let b = &input[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn len_u32(&mut self) -> Result<usize, String> {
        let b = self.bytes(4)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .map_err(|_| "length does not fit in memory".to_string())
    }

    fn len_u64(&mut self) -> Result<usize, String> {
        let b = self.bytes(8)?;
        let mut buf = [0; 8];
        buf.copy_from_slice(b);
        usize::try_from(u64::from_le_bytes(buf))
            .map_err(|_| "length does not fit in memory".to_string())
    }

    fn string(&mut self, n: usize) -> Result<Value, String> {
        let b = self.bytes(n)?;
        let s = std::str::from_utf8(b).map_err(|e| format!("string is not UTF-8: {e}"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    /// A newline-terminated ASCII line (GLOBAL's module and name).
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| "the pickle is truncated inside a GLOBAL name".to_string())?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|e| format!("GLOBAL name is not UTF-8: {e}"))?
            .to_string();
        self.pos += n + 1;
        Ok(s)
    }
}

/// What inserting `k` into a dict costs in hashing.
fn key_cost(k: &Value) -> u64 {
    match k {
        Value::Str(s) => s.len() as u64 + 1,
        _ => 1,
    }
}

fn global(module: &str, name: &str) -> Global {
    match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            Global::RebuildParameter
        }
        ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromType,
        ("torch", class) => match StorageType::from_class(class) {
            Some(t) => Global::Storage(t),
            None => Global::Other(Rc::from(format!("{module}.{name}"))),
        },
        _ => Global::Other(Rc::from(format!("{module}.{name}"))),
    }
}

/// `('storage', storage_type, key, location, numel)`, as `torch.save`'s `persistent_id` writes.
fn persistent_load(pid: &Value) -> Result<StorageRef, String> {
    let bad = || format!("unsupported persistent id {}", pid.describe());
    let Value::Tuple(t) = pid else {
        return Err(bad());
    };
    match t.as_slice() {
        [Value::Str(tag), Value::Global(g), Value::Str(key), _location, Value::Int(numel)]
            if &**tag == "storage" =>
        {
            let dtype = match g {
                Global::Storage(t) => *t,
                Global::Other(name) => {
                    return Err(format!("storage type `{name}` is not supported"))
                }
                _ => return Err(bad()),
            };
            let numel =
                u64::try_from(*numel).map_err(|_| format!("negative storage size {numel}"))?;
            Ok(StorageRef {
                dtype,
                key: key.to_string(),
                numel,
            })
        }
        _ => Err(bad()),
    }
}

/// REDUCE: what calling `callable(*args)` would build, for the few callables known.
fn call(callable: &Value, args: &[Value]) -> Result<Value, String> {
    let Value::Global(g) = callable else {
        return Err(format!("cannot call {}", callable.describe()));
    };
    match g {
        Global::OrderedDict => {
            if !args.is_empty() {
                return Err("OrderedDict with arguments is not supported".to_string());
            }
            Ok(Value::Dict(Rc::default()))
        }
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
        Global::RebuildTensorV2 if args.len() == 6 || args.len() == 7 => tensor(args),
        // _rebuild_tensor(storage, offset, size, stride)
        Global::RebuildTensor if args.len() == 4 => tensor(args),
        // _rebuild_parameter(data, requires_grad, hooks) and
        // _rebuild_parameter_with_state(data, requires_grad, hooks, state): a Parameter is
        // its tensor here.
        Global::RebuildParameter => match args.first() {
            Some(t @ Value::Tensor(_)) if args.len() == 3 || args.len() == 4 => Ok(t.clone()),
            _ => Err("_rebuild_parameter expects (tensor, requires_grad, hooks)".to_string()),
        },
        // _rebuild_from_type_v2(func, new_type, args, state), for tensors that carry Python
        // attributes or are of a subclass: the tensor is func(*args). Only the tensor
        // builders may be nested, which also bounds the recursion.
        Global::RebuildFromType => match args {
            [f @ Value::Global(
                Global::RebuildTensorV2 | Global::RebuildTensor | Global::RebuildParameter,
            ), _, Value::Tuple(inner), _] => call(f, inner),
            _ => {
                Err("_rebuild_from_type_v2 expects (tensor builder, type, args, state)".to_string())
            }
        },
        Global::RebuildTensorV2 | Global::RebuildTensor => Err(format!(
            "unexpected number of arguments ({}) to {g:?}",
            args.len()
        )),
        Global::Storage(_) => Err("a storage type cannot be called".to_string()),
        Global::Other(name) => Ok(Value::Object(name.clone())),
    }
}

fn tensor(args: &[Value]) -> Result<Value, String> {
    let storage = match &args[0] {
        Value::Storage(s) => s.clone(),
        other => {
            return Err(format!(
                "tensor storage must be a storage, got {}",
                other.describe()
            ))
        }
    };
    let offset = match &args[1] {
        Value::Int(i) => u64::try_from(*i).map_err(|_| format!("negative storage offset {i}"))?,
        other => {
            return Err(format!(
                "storage offset must be an int, got {}",
                other.describe()
            ))
        }
    };
    let shape = dims(&args[2], "size")?;
    let stride = dims(&args[3], "stride")?;
    if shape.len() != stride.len() {
        return Err(format!(
            "size has {} dimensions but stride has {}",
            shape.len(),
            stride.len()
        ));
    }
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage,
        offset,
        shape,
        stride,
    })))
}

fn dims(v: &Value, what: &str) -> Result<Vec<u64>, String> {
    let Value::Tuple(t) = v else {
        return Err(format!(
            "tensor {what} must be a tuple, got {}",
            v.describe()
        ));
    };
    t.iter()
        .map(|d| match d {
            Value::Int(i) => u64::try_from(*i).map_err(|_| format!("negative tensor {what} {i}")),
            other => Err(format!(
                "tensor {what} must hold ints, got {}",
                other.describe()
            )),
        })
        .collect()
}

fn op_name(op: u8) -> String {
    let name = match op {
        0x80 => "PROTO",
        0x95 => "FRAME",
        b'.' => "STOP",
        b'(' => "MARK",
        b'}' => "EMPTY_DICT",
        b']' => "EMPTY_LIST",
        b')' => "EMPTY_TUPLE",
        b't' => "TUPLE",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        b'N' => "NONE",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'M' => "BININT2",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'G' => "BINFLOAT",
        b'X' => "BINUNICODE",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8e => "BINBYTES8",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        0x94 => "MEMOIZE",
        b'h' => "BINGET",
        b'j' => "LONG_BINGET",
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'Q' => "BINPERSID",
        b'P' => "PERSID",
        b'R' => "REDUCE",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'i' => "INST",
        b'o' => "OBJ",
        b'b' => "BUILD",
        b's' => "SETITEM",
        b'u' => "SETITEMS",
        b'a' => "APPEND",
        b'e' => "APPENDS",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        b'I' => "INT",
        b'L' => "LONG",
        b'F' => "FLOAT",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'p' => "PUT",
        b'g' => "GET",
        b'0' => "POP",
        b'1' => "DUP",
        b'2' => "POP_MARK",
        0x82..=0x84 => "EXT",
        0x96..=0x98 => "BYTEARRAY8/buffer",
        _ => "",
    };
    if name.is_empty() {
        format!("0x{op:02x}")
    } else {
        format!("{name} (0x{op:02x})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_opcodes() {
        let e = unpickle(b"\x80\x02I1\n.").err().unwrap_or_default();
        assert!(e.contains("INT (0x49)"), "{e}");
    }

    #[test]
    fn truncated_pickle_is_an_error() {
        let e = unpickle(b"\x80\x02X\x10\x00\x00\x00ab")
            .err()
            .unwrap_or_default();
        assert!(e.contains("truncated"), "{e}");
        let e = unpickle(b"\x80\x02}q\x00").err().unwrap_or_default();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn deep_nesting_drops_without_overflow() {
        let mut p = b"\x80\x02".to_vec();
        for _ in 0..200_000 {
            p.extend_from_slice(b"](");
        }
        for _ in 0..200_000 {
            p.extend_from_slice(b"ea");
        }
        // One list, nested 200 000 deep.
        p.push(b'.');
        let v = unpickle(&p);
        drop(v);
    }

    fn ustr(out: &mut Vec<u8>, s: &str) {
        out.push(b'X');
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// `(storage, 0, (4,), (1,), False, {})` with a FloatStorage of 4 under key "0".
    fn tensor_args(p: &mut Vec<u8>) {
        p.push(b'(');
        p.push(b'(');
        ustr(p, "storage");
        p.extend_from_slice(b"ctorch\nFloatStorage\n");
        ustr(p, "0");
        ustr(p, "cpu");
        p.extend_from_slice(b"K\x04tQK\x00K\x04\x85K\x01\x85\x89}t");
    }

    #[test]
    fn tensor_subclasses_and_parameters_are_tensors() {
        // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.nn.Parameter, args, {})
        let mut p = b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(".to_vec();
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\nctorch.nn\nParameter\n");
        tensor_args(&mut p);
        p.extend_from_slice(b"}tR.");
        // _rebuild_parameter(_rebuild_tensor_v2(...), True, {})
        let mut q = b"\x80\x02ctorch._utils\n_rebuild_parameter\n(".to_vec();
        q.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n");
        tensor_args(&mut q);
        q.extend_from_slice(b"R\x88}tR.");
        for pickle in [p, q] {
            match &unpickle(&pickle) {
                Ok(Value::Tensor(t)) => {
                    assert_eq!(t.shape, [4]);
                    assert_eq!(t.storage.dtype, StorageType::F32);
                }
                Ok(other) => panic!("got {}", other.describe()),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn long1_and_floats() {
        // LONG1 -2 (0xfe), BINFLOAT 1.5, TUPLE2
        let v = unpickle(b"\x80\x02\x8a\x01\xfeG\x3f\xf8\x00\x00\x00\x00\x00\x00\x86.").ok();
        match &v {
            Some(Value::Tuple(t)) => {
                assert!(matches!(t[0], Value::Int(-2)));
                assert!(matches!(t[1], Value::Float(x) if x == 1.5));
            }
            _ => panic!("expected a tuple"),
        }
    }
}
