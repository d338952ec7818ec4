//! The checks [`Module::render`] runs before any text exists: declarations before use, names
//! declared once, bit selects in range, literals that fit, used parameters, and the unused
//! bits a generator declared (which become `<signal>_unused` wires).

use super::*;

impl Module {
    /// Width, shape and memory depth of every declared signal (ports and nets).
    fn signals(&self) -> Result<BTreeMap<String, Shape>, HdlError> {
        let module = || self.name.clone();
        let mut map = BTreeMap::new();
        let mut add = |name: &str, shape: Shape| {
            if !is_legal_identifier(name) {
                return Err(HdlError::BadIdentifier {
                    module: module(),
                    name: name.into(),
                });
            }
            if shape.bits == 0 || shape.depth == Some(0) {
                return Err(HdlError::ZeroWidth {
                    module: module(),
                    signal: name.into(),
                });
            }
            if map.insert(name.to_string(), shape).is_some() {
                return Err(HdlError::DuplicateName {
                    module: module(),
                    name: name.into(),
                });
            }
            Ok(())
        };
        for p in self.ports() {
            add(
                &p.name,
                Shape {
                    bits: p.size.bits,
                    scalar: p.size.is_scalar(),
                    depth: None,
                },
            )?;
        }
        for item in &self.items {
            if let Item::Net(n) = item {
                add(
                    &n.name,
                    Shape {
                        bits: n.size.bits,
                        scalar: n.size.is_scalar(),
                        depth: n.depth,
                    },
                )?;
            }
        }
        Ok(map)
    }

    /// Every expression the module reads, with every target it writes.
    fn visit(&self, reads: &mut dyn FnMut(&Expr), writes: &mut dyn FnMut(&Expr)) {
        for item in &self.items {
            visit_item(item, reads, writes);
        }
    }

    /// Verilog wants a name declared before it is used (Icarus enforces it): checks the order.
    fn check_declaration_order(&self) -> Result<(), HdlError> {
        let mut declared: BTreeSet<String> = self.ports().map(|p| p.name.clone()).collect();
        for item in &self.items {
            if let Item::Net(n) = item {
                declared.insert(n.name.clone());
            }
            let mut names = Vec::new();
            let mut collect = |e: &Expr| e.visit_reads(&mut |n, _| names.push(n.to_string()));
            let mut collect2 = Vec::new();
            visit_item(item, &mut collect, &mut |t: &Expr| collect2.push(t.clone()));
            for t in &collect2 {
                t.visit_reads(&mut |n, _| names.push(n.to_string()));
            }
            if let Some(n) = names.iter().find(|n| !declared.contains(*n)) {
                return Err(HdlError::DeclarationOrder {
                    module: self.name.clone(),
                    signal: n.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks names, references, bit ranges, literals and parameter use; returns, per
    /// discarded signal, the bit ranges (msb, lsb) nobody reads.
    pub(super) fn check(&self) -> Result<Vec<UnusedBits>, HdlError> {
        let m = &self.name;
        let module = || m.clone();
        if !is_legal_identifier(m) {
            return Err(HdlError::BadIdentifier {
                module: module(),
                name: m.clone(),
            });
        }
        let signals = self.signals()?;
        let mut names: BTreeSet<String> = signals.keys().cloned().collect();
        for p in &self.params {
            if !is_legal_identifier(&p.name) || !names.insert(p.name.clone()) {
                return Err(duplicate_or_illegal(m, &p.name));
            }
        }
        for item in &self.items {
            if let Item::Instance(i) = item {
                if !is_legal_identifier(&i.name) || !names.insert(i.name.clone()) {
                    return Err(duplicate_or_illegal(m, &i.name));
                }
            }
        }

        // Bits read, per signal; and the first error seen.
        let mut used: BTreeMap<String, Vec<bool>> = signals
            .iter()
            .map(|(n, s)| (n.clone(), vec![false; s.bits as usize]))
            .collect();
        let mut error: Option<HdlError> = None;
        let mut check_ref = |name: &str, access: Access, mark: bool| {
            let Some(&Shape {
                bits: w,
                scalar,
                depth,
            }) = signals.get(name)
            else {
                error.get_or_insert(HdlError::Undeclared {
                    module: module(),
                    signal: name.into(),
                });
                return;
            };
            let bits = match (access, depth) {
                (Access::Word, Some(_)) => None,
                (Access::Word, None) => {
                    error.get_or_insert(wrong_shape(m, name, "is indexed but is not a memory"));
                    return;
                }
                (_, Some(_)) => {
                    error.get_or_insert(wrong_shape(m, name, "is a memory used without an index"));
                    return;
                }
                (Access::Whole, None) => None,
                (Access::Bits(b), None) => Some(b),
            };
            if scalar && bits.is_some() {
                error.get_or_insert(wrong_shape(m, name, "is a scalar but bit-selected"));
                return;
            }
            let (msb, lsb) = bits.unwrap_or((w - 1, 0));
            if msb < lsb || msb >= w {
                error.get_or_insert(HdlError::OutOfRange {
                    module: module(),
                    signal: name.into(),
                    msb,
                    lsb,
                    top: w - 1,
                });
                return;
            }
            if mark {
                if let Some(u) = used.get_mut(name) {
                    u[lsb as usize..=msb as usize]
                        .iter_mut()
                        .for_each(|b| *b = true);
                }
            }
        };
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        self.visit(&mut |e| reads.push(e.clone()), &mut |t| {
            writes.push(t.clone())
        });
        let mut lits_ok = true;
        for e in &reads {
            e.visit_reads(&mut |n, b| check_ref(n, b, true));
            e.visit_lits(&mut |l| lits_ok &= l.fits());
        }
        for t in &writes {
            match t {
                Expr::Ref(_) | Expr::Bit(..) | Expr::Slice(..) => {
                    t.visit_reads(&mut |n, b| check_ref(n, b, false))
                }
                Expr::Index(n, _) => check_ref(n, Access::Word, false),
                _ => check_ref("<not an assignable expression>", Access::Whole, false),
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        self.check_declaration_order()?;
        if !lits_ok {
            return Err(HdlError::BadLiteral { module: module() });
        }

        // Every localparam must size something.
        let mut sized: BTreeSet<String> = BTreeSet::new();
        let mut note_size = |s: &Size| {
            for f in &s.factors {
                if let Factor::Param(p) = f {
                    sized.insert(p.clone());
                }
            }
        };
        self.ports().for_each(|p| note_size(&p.size));
        for item in &self.items {
            if let Item::Net(n) = item {
                note_size(&n.size);
            }
        }
        for p in &self.params {
            if !sized.contains(&p.name) {
                return Err(HdlError::UnusedParam {
                    module: module(),
                    name: p.name.clone(),
                });
            }
        }

        let mut out = Vec::new();
        for d in &self.discards {
            let Some(bits) = used.get(&d.signal) else {
                return Err(HdlError::Undeclared {
                    module: module(),
                    signal: d.signal.clone(),
                });
            };
            // Unused runs, most significant first.
            let mut runs = Vec::new();
            let mut i = bits.len();
            while i > 0 {
                i -= 1;
                if !bits[i] {
                    let msb = i as u32;
                    while i > 0 && !bits[i - 1] {
                        i -= 1;
                    }
                    runs.push((msb, i as u32));
                }
            }
            let sink = format!("{}_unused", d.signal);
            if !runs.is_empty() && names.contains(&sink) {
                return Err(HdlError::DuplicateName {
                    module: module(),
                    name: sink,
                });
            }
            if !runs.is_empty() {
                out.push(UnusedBits {
                    discard: d.clone(),
                    runs,
                });
            }
        }
        Ok(out)
    }
}

fn visit_item(item: &Item, reads: &mut dyn FnMut(&Expr), writes: &mut dyn FnMut(&Expr)) {
    match item {
        Item::Comment(_) => {}
        Item::Net(n) => {
            if let Some(e) = &n.init {
                writes(&Expr::name(&n.name));
                reads(e);
            }
        }
        Item::Assign(t, v) => {
            writes(t);
            reads(v);
        }
        Item::Always { clock, body, .. } => {
            reads(&Expr::name(clock));
            body.iter().for_each(|s| s.visit(reads, writes));
        }
        Item::Instance(inst) => {
            for (_, e, dir) in &inst.conns {
                match dir {
                    PortDir::In => reads(e),
                    PortDir::Out => writes(e),
                }
            }
        }
    }
}

/// A localparam or instance whose name is not an identifier or is already taken.
fn duplicate_or_illegal(module: &str, name: &str) -> HdlError {
    let (module, name) = (module.to_string(), name.to_string());
    if is_legal_identifier(&name) {
        HdlError::DuplicateName { module, name }
    } else {
        HdlError::BadIdentifier { module, name }
    }
}

fn wrong_shape(module: &str, signal: &str, problem: &'static str) -> HdlError {
    HdlError::WrongShape {
        module: module.to_string(),
        signal: signal.to_string(),
        problem,
    }
}
