//! `$filter`: recursive descent over tokens into an untyped tree, then checked against
//! the entity's metadata into a typed [`Filter`].
//!
//! Precedence, tightest first (OData's): `not` > comparisons > `and` > `or`. As in
//! Dataverse, `not name eq 'x'` is `(not name) eq 'x'` and is refused; write
//! `not (name eq 'x')`. `and`/`or` chains are kept flat (one `Vec`), so the tree is only
//! as deep as the parentheses and `not`s, which [`MAX_DEPTH`] bounds.

use super::lex::{char_pos, lex, Tok, Token};
use super::value::Value;
use super::ODataError;
use crate::model::{Column, Kind, Table};

/// Nesting of parentheses, `not` and function arguments. Keeps the parser's recursion
/// (and the tree's) far from the stack's limit, whatever the input.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_word(w: &str) -> Option<CmpOp> {
        Some(match w {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    /// The operator kind's name in Dataverse's messages.
    pub fn kind_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "Equal",
            CmpOp::Ne => "NotEqual",
            CmpOp::Gt => "GreaterThan",
            CmpOp::Ge => "GreaterThanOrEqual",
            CmpOp::Lt => "LessThan",
            CmpOp::Le => "LessThanOrEqual",
        }
    }

    /// The operator with its operands swapped: `5 lt x` is `x gt 5`.
    fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFn {
    Contains,
    StartsWith,
    EndsWith,
}

/// A checked filter: every column exists, may be filtered, and its value fits its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Empty: the literal `true`.
    And(Vec<Filter>),
    /// Empty: the literal `false`.
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `value` is `Null` only with `Eq`/`Ne`; an `Int` literal on a `Decimal` column is
    /// already a `Decimal`.
    Compare {
        column: &'static Column,
        op: CmpOp,
        value: Value,
    },
    Text {
        func: TextFn,
        column: &'static Column,
        needle: String,
    },
}

#[derive(Debug)]
enum Node<'a> {
    Or(Vec<Node<'a>>),
    And(Vec<Node<'a>>),
    Not(Box<Node<'a>>),
    Cmp(CmpOp, Box<Node<'a>>, Box<Node<'a>>),
    Call(&'a str, Vec<Node<'a>>),
    Prop(&'a str),
    Lit(Value),
}

pub fn parse_filter(text: &str, table: &Table) -> Result<Filter, ODataError> {
    let mut p = Parser {
        text,
        toks: lex(text)?,
        i: 0,
    };
    let node = p.or(0)?;
    if p.i < p.toks.len() {
        return Err(p.error("')' or operator expected"));
    }
    Checker { table }.boolean(node, None)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn error(&self, what: &str) -> ODataError {
        let byte = self.toks.get(self.i).map_or(self.text.len(), |t| t.at);
        if let Some(Tok::Invalid(ch)) = self.peek() {
            return ODataError::new(format!(
                "Syntax error: character '{ch}' is not valid at position {} in '{}'.",
                char_pos(self.text, byte),
                self.text
            ));
        }
        ODataError::new(format!(
            "{what} at position {} in '{}'.",
            char_pos(self.text, byte),
            self.text
        ))
    }

    fn at_word(&self, w: &str) -> bool {
        self.peek() == Some(&Tok::Ident(w))
    }

    fn deeper(&self, depth: usize) -> Result<usize, ODataError> {
        if depth >= MAX_DEPTH {
            return Err(ODataError::new("Recursion depth exceeded allowed limit."));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let mut terms = vec![self.and(depth)?];
        while self.at_word("or") {
            self.i += 1;
            terms.push(self.and(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Node::Or(terms)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let mut terms = vec![self.cmp(depth)?];
        while self.at_word("and") {
            self.i += 1;
            terms.push(self.cmp(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Node::And(terms)
        })
    }

    fn cmp(&mut self, mut depth: usize) -> Result<Node<'a>, ODataError> {
        let mut left = self.unary(depth)?;
        while let Some(op) = match self.peek() {
            Some(Tok::Ident(w)) => CmpOp::from_word(w),
            _ => None,
        } {
            // `a eq b eq c ...` nests leftwards; count each chained one like parentheses.
            if matches!(left, Node::Cmp(..)) {
                depth = self.deeper(depth)?;
            }
            self.i += 1;
            let right = self.unary(depth)?;
            left = Node::Cmp(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        if self.at_word("not") {
            let depth = self.deeper(depth)?;
            self.i += 1;
            return Ok(Node::Not(Box::new(self.unary(depth)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error("Expression expected"));
        };
        match tok {
            Tok::LParen => {
                let depth = self.deeper(depth)?;
                self.i += 1;
                let inner = self.or(depth)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.error("')' or operator expected"));
                }
                self.i += 1;
                Ok(inner)
            }
            Tok::Lit(v) => {
                self.i += 1;
                Ok(Node::Lit(v))
            }
            Tok::Ident(w) if is_keyword(w) => Err(self.error("Expression expected")),
            Tok::Ident(name) => {
                self.i += 1;
                if self.peek() != Some(&Tok::LParen) {
                    return Ok(Node::Prop(name));
                }
                if !FUNCTIONS.contains(&name) {
                    return Err(unknown_function(name));
                }
                let depth = self.deeper(depth)?;
                self.i += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Tok::RParen) {
                    self.i += 1;
                    return Ok(Node::Call(name, args));
                }
                loop {
                    args.push(self.or(depth)?);
                    match self.peek() {
                        Some(Tok::Comma) => self.i += 1,
                        Some(Tok::RParen) => {
                            self.i += 1;
                            return Ok(Node::Call(name, args));
                        }
                        _ => return Err(self.error("')' or ',' expected")),
                    }
                }
            }
            Tok::RParen | Tok::Comma | Tok::Invalid(_) => Err(self.error("Expression expected")),
        }
    }
}

const FUNCTIONS: [&str; 3] = ["contains", "startswith", "endswith"];

fn unknown_function(name: &str) -> ODataError {
    ODataError::new(format!(
        "An unknown function with name '{name}' was found. This may also be a \
         function import or a key lookup on a navigation property, which is not allowed."
    ))
}

fn is_keyword(w: &str) -> bool {
    matches!(w, "and" | "or" | "not") || CmpOp::from_word(w).is_some()
}

struct Checker<'m> {
    table: &'m Table,
}

impl Checker<'_> {
    fn property(&self, name: &str) -> Result<&'static Column, ODataError> {
        let col = self
            .table
            .property(name)
            .ok_or_else(|| unknown_property(self.table, name))?;
        if !col.filterable() {
            return Err(ODataError::new(format!(
                "The property '{name}' cannot be used in a $filter query option."
            )));
        }
        Ok(col)
    }

    /// The EDM type of an operand, for messages; unknown properties are reported first.
    fn type_of(&self, node: &Node) -> Result<&'static str, ODataError> {
        Ok(match node {
            Node::Prop(name) => self.property(name)?.kind.edm(),
            Node::Lit(v) => v.edm(),
            _ => "Edm.Boolean",
        })
    }

    /// `node` where a boolean is needed; `within` names the enclosing operator (and
    /// whether the operand is its left one), for the message.
    fn boolean(&self, node: Node, within: Option<(&str, bool)>) -> Result<Filter, ODataError> {
        match node {
            Node::Or(terms) => Ok(Filter::Or(self.terms(terms, "Or")?)),
            Node::And(terms) => Ok(Filter::And(self.terms(terms, "And")?)),
            Node::Not(inner) => {
                if matches!(*inner, Node::Prop(_) | Node::Lit(_)) {
                    let ty = self.type_of(&inner)?;
                    if ty != "Edm.Boolean" {
                        return Err(ODataError::new(format!(
                            "A unary operator with an incompatible type was detected. \
                             Found operand type '{ty}' for operator kind 'Not'."
                        )));
                    }
                }
                Ok(Filter::Not(Box::new(
                    self.boolean(*inner, Some(("Not", true)))?,
                )))
            }
            Node::Cmp(op, a, b) => self.compare(op, *a, *b),
            Node::Call(name, args) => self.call(name, args),
            Node::Lit(Value::Bool(true)) => Ok(Filter::And(Vec::new())),
            Node::Lit(Value::Bool(false)) => Ok(Filter::Or(Vec::new())),
            Node::Prop(name) if self.property(name)?.kind == Kind::Bool => Ok(Filter::Compare {
                column: self.property(name)?,
                op: CmpOp::Eq,
                value: Value::Bool(true),
            }),
            other => {
                let ty = self.type_of(&other)?;
                Err(match within {
                    None => ODataError::new(
                        "The $filter expression must evaluate to a single boolean value.",
                    ),
                    Some(("Not", _)) => ODataError::new(format!(
                        "A unary operator with an incompatible type was detected. \
                         Found operand type '{ty}' for operator kind 'Not'."
                    )),
                    Some((kind, first)) => {
                        let (l, r) = if first {
                            (ty, "Edm.Boolean")
                        } else {
                            ("Edm.Boolean", ty)
                        };
                        incompatible(l, r, kind)
                    }
                })
            }
        }
    }

    fn terms(&self, terms: Vec<Node>, kind: &str) -> Result<Vec<Filter>, ODataError> {
        terms
            .into_iter()
            .enumerate()
            .map(|(i, t)| self.boolean(t, Some((kind, i == 0))))
            .collect()
    }

    fn compare(&self, op: CmpOp, a: Node, b: Node) -> Result<Filter, ODataError> {
        match (a, b) {
            (Node::Prop(name), Node::Lit(v)) => self.fit(self.property(name)?, op, v),
            (Node::Lit(v), Node::Prop(name)) => self.fit(self.property(name)?, op.swapped(), v),
            (Node::Prop(x), Node::Prop(y)) => {
                self.property(x)?;
                self.property(y)?;
                Err(ODataError::new(format!(
                    "Comparing two properties ('{x}' {} '{y}') is not supported; \
                     compare a property with a literal value.",
                    op_word(op)
                )))
            }
            (Node::Lit(_), Node::Lit(_)) => Err(ODataError::new(
                "A comparison needs a property on one side; two literals were compared.",
            )),
            // `contains(name,'x') eq true`, `(a or b) ne false`.
            (expr, Node::Lit(Value::Bool(want))) | (Node::Lit(Value::Bool(want)), expr)
                if matches!(op, CmpOp::Eq | CmpOp::Ne)
                    && !matches!(expr, Node::Prop(_) | Node::Lit(_)) =>
            {
                let f = self.boolean(expr, None)?;
                Ok(if want == (op == CmpOp::Eq) {
                    f
                } else {
                    Filter::Not(Box::new(f))
                })
            }
            (a, b) => {
                let (ta, tb) = (self.type_of(&a)?, self.type_of(&b)?);
                if ta == "Edm.Boolean" && tb == "Edm.Boolean" {
                    return Err(ODataError::new(
                        "Comparing two expressions is not supported; \
                         compare a property with a literal value.",
                    ));
                }
                // Report errors inside boolean operands (e.g. `not name`) before the
                // comparison's own mismatch.
                for side in [a, b] {
                    if !matches!(side, Node::Prop(_) | Node::Lit(_)) {
                        self.boolean(side, None)?;
                    }
                }
                Err(incompatible(ta, tb, op.kind_name()))
            }
        }
    }

    fn fit(&self, column: &'static Column, op: CmpOp, value: Value) -> Result<Filter, ODataError> {
        let value = match (column.kind, value) {
            (_, Value::Null) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Value::Null,
            (_, Value::Null) => {
                return Err(ODataError::new(format!(
                    "The property '{}' can only be compared with null using 'eq' or 'ne'.",
                    column.property()
                )))
            }
            (Kind::Text, v @ Value::Text(_))
            | (Kind::Guid | Kind::Lookup(_), v @ Value::Guid(_))
            | (Kind::Int | Kind::Choice, v @ Value::Int(_))
            | (Kind::Int | Kind::Decimal, v @ Value::Decimal(_))
            | (Kind::Bool, v @ Value::Bool(_))
            | (Kind::DateTime, v @ Value::DateTime(_)) => v,
            (Kind::Decimal, Value::Int(i)) => Value::Decimal(i as f64),
            (kind, v) => return Err(incompatible(kind.edm(), v.edm(), op.kind_name())),
        };
        Ok(Filter::Compare { column, op, value })
    }

    fn call(&self, name: &str, args: Vec<Node>) -> Result<Filter, ODataError> {
        let func = match name {
            "contains" => TextFn::Contains,
            "startswith" => TextFn::StartsWith,
            "endswith" => TextFn::EndsWith,
            _ => return Err(unknown_function(name)),
        };
        let signature = || {
            ODataError::new(format!(
                "No function signature for the function with name '{name}' matches the \
                 specified arguments. The function signatures considered are: \
                 {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
            ))
        };
        let mut args = args.into_iter();
        match (args.next(), args.next(), args.next()) {
            (Some(Node::Prop(prop)), Some(Node::Lit(Value::Text(needle))), None) => {
                let column = self.property(prop)?;
                if column.kind != Kind::Text {
                    return Err(signature());
                }
                Ok(Filter::Text {
                    func,
                    column,
                    needle,
                })
            }
            (Some(Node::Prop(prop)), _, _) => {
                self.property(prop)?;
                Err(signature())
            }
            _ => Err(signature()),
        }
    }
}

fn op_word(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
    }
}

fn incompatible(left: &str, right: &str, kind: &str) -> ODataError {
    ODataError::new(format!(
        "A binary operator with incompatible types was detected. \
         Found operand types '{left}' and '{right}' for operator kind '{kind}'."
    ))
}

pub(crate) fn unknown_property(table: &Table, name: &str) -> ODataError {
    let mut msg = format!(
        "Could not find a property named '{name}' on type '{}'.",
        table.type_name()
    );
    if table.column(name).is_some_and(|c| c.kind.is_lookup()) {
        msg.push_str(&format!(" Use '_{name}_value' for the lookup's id."));
    }
    ODataError::new(msg)
}
